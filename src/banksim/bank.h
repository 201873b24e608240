#pragma once
// One simulated bank: decides each call and keeps what it approved, for the statement file.
//
// Reproducible: the verdict, decline reason, bank reference and latency of a call are a hash of
// (seed, channel id, our reference, how many times that reference already failed), so the same
// seed gives the same answers whatever order concurrent calls arrive in. Only capacity (503 past
// capacity_tps) depends on timing, as it does at a real bank.
//
// Idempotent: a reference the bank already approved or declined gets the same answer and bank
// reference again, at once, and is never a second operation. The same reference with another amount or
// API is declined as `reference_conflict`. A reference that met an error may be retried and
// draws afresh. Thread-safe.

#include <absl/container/flat_hash_map.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "channels/config.h"
#include "channels/connector.h"
#include "channels/token_bucket.h"
#include "core/clock.h"

namespace capillary::banksim {

// References one bank remembers. Past it the bank answers every new reference with an error
// rather than grow without bound (about 150 B each: 600 MiB at the cap).
inline constexpr std::size_t references_max = 4'000'000;

// A simulated call never takes longer than this, whatever the tail of its distribution: far past
// any caller's timeout, so the answer still counts as a timeout, and no timer waits for hours.
inline constexpr std::chrono::microseconds delay_max{30'000'000};

// The bank absorbs a tenth of a second of its capacity in one burst.
inline constexpr std::uint32_t capacity_burst_divisor = 10;

enum class Verdict : std::uint8_t { approved, declined, error, over_capacity };

struct Decision {
  Verdict verdict = Verdict::error;
  std::string bank_reference;          // approved or declined
  std::string_view decline_reason;     // declined
  std::chrono::microseconds delay{0};  // how long the bank takes to answer
};

struct Operation {
  std::string our_reference;
  std::string bank_reference;
  std::int64_t amount_fen = 0;
  channels::BankApi api = channels::BankApi::debit_card;
  bool refund = false;  // a credit_card that returns a card payment
  std::uint64_t approved_ns = 0;
};

class SimulatedBank {
 public:
  SimulatedBank(const channels::ChannelConfig& channel, std::uint64_t seed, const Clock& clock);
  SimulatedBank(const SimulatedBank&) = delete;
  SimulatedBank& operator=(const SimulatedBank&) = delete;

  // `refund`: a credit_card that returns a card payment (listed as `refund` in the statement).
  Decision handle(channels::BankApi api, std::string_view reference, std::int64_t amount_fen,
                  bool refund = false);

  // What the bank decided for `reference` (approved or declined, answered at once), or nothing
  // when it holds no such operation: never received, or every attempt met an error.
  std::optional<Decision> find(std::string_view reference) const;

  // The statement file (format in channels/wire.h): every approved operation, in order.
  std::string statement_csv() const;
  std::vector<Operation> approved() const;

 private:
  struct Entry {
    std::uint32_t errors = 0;  // failed attempts so far; part of the next draw
    bool settled = false;      // approved or declined: answers are repeated from here on
    Decision decision;         // when settled
    std::int64_t amount_fen = 0;
    channels::BankApi api = channels::BankApi::debit_card;
    bool refund = false;
  };

  std::uint64_t draw(std::string_view reference, std::uint32_t attempt, std::uint64_t stream) const;
  std::chrono::microseconds draw_delay(std::string_view reference, std::uint32_t attempt) const;
  Decision decide(std::string_view reference, std::uint32_t attempt) const;

  const channels::ChannelId channel_id_;
  const channels::SimulationProfile profile_;
  const std::uint64_t seed_;
  const double latency_sigma_;  // of the lognormal, from median and p99
  const Clock& clock_;
  channels::TokenBucket capacity_;
  mutable std::mutex mutex_;
  absl::flat_hash_map<std::string, Entry> entries_;  // guarded by mutex_
  std::vector<Operation> approved_;                  // guarded by mutex_
};

}  // namespace capillary::banksim
