#pragma once
// A seeded generator of a labelled synthetic event stream for the risk engine: normal users with
// habits (home city, devices, usual merchants and payees, typical amounts), merchants, families
// whose members pay from each other's accounts in other cities, and injected fraud. The same seed
// and options give the same stream.
//
// Normal users are noisy on purpose: they travel, buy new phones, use shared terminals that many
// accounts use, pay new payees, make the odd large purchase, withdraw to new cards, and some have
// dealt with accounts later flagged. Fraud
// reuses those same signals, so no single flag separates it:
// - account takeover: the attacker logs in from a new device (usually in another city, sometimes
//   the victim's own) and pays out large amounts to new cards or payees;
// - card testing: bursts of tiny payments at many merchants from a ring's device and IP, with
//   stolen accounts (or one);
// - scam transfer: the victim, on their own phone at home, sends a large transfer to a new payee,
//   usually a mule linked to flagged accounts;
// - impossible travel: someone uses the account from a distant city minutes after its holder,
//   sometimes with the holder's own (cloned) device id.

#include <cstdint>
#include <memory>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "risk/event.h"

namespace capillary::risk {

enum class FraudKind : std::uint8_t {
  none,
  account_takeover,
  card_testing,
  scam_transfer,
  impossible_travel
};
inline constexpr std::size_t fraud_kinds = 5;
std::string_view fraud_kind_name(FraudKind kind);

struct LabelledEvent {
  Event event;
  FraudKind fraud = FraudKind::none;
  std::uint32_t case_id = 0;  // fraud events of one injected case share it; 0 for normal events
};

struct GeneratorOptions {
  std::uint64_t seed = 42;
  // The stream's expected length sizes the population: one user per `events_per_user` events,
  // over a fixed span of days, so activity per user does not depend on the length.
  std::uint64_t events = 1'000'000;
  std::uint64_t events_per_user = 20;
  std::uint64_t span_days = 3;
  // Fraud cases started per 10,000 normal events (each case is 1 to 40 events).
  std::uint32_t fraud_cases_per_10k = 20;
};

// What the platform knew before the stream started.
struct World {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> families;  // user, family group
  std::vector<std::uint64_t> flagged;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> counterparties;
  std::vector<std::pair<std::uint64_t, std::int64_t>> merchant_risk;  // merchant, level 1..3
  // Each user's earlier activity (a login per device, usual payments, a transfer to each usual
  // payee, a withdrawal to each card) over the month before the stream, oldest first: replayed
  // into the engine first so the stream does not start with every device and payee new.
  std::vector<Event> history;
};

class Generator {
 public:
  explicit Generator(const GeneratorOptions& options);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  const World& world() const;
  // The next event in time order; never ends (the caller stops after the events it wants).
  LabelledEvent next();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace capillary::risk
