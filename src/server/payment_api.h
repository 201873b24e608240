#pragma once
// The product routes (docs/payments-api.md): authenticate the caller, parse the request into a
// payment command, do what must happen before journaling (charge a card through the bank
// channels), submit it to the engine and answer once it is durable. Like Routes, it never blocks
// an io thread: engine and bank callbacks hand their answers back through `post_io`.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "auth/auth.h"
#include "channels/config.h"
#include "core/clock.h"
#include "channels/gateway.h"
#include "engine/engine.h"
#include "notify/notifier.h"
#include "risk/engine.h"
#include "server/income_runs.h"
#include "server/metrics.h"
#include "server/payment_json.h"
#include "server/routes.h"

namespace capillary::server {

// Payment steps handed to the engine and not yet answered, across all connections. About a
// quarter of a second of work at the engine's batch rate: enough to keep every journal entry
// full, little enough that an admitted request never waits long behind others.
inline constexpr std::size_t payment_steps_in_flight_max = 20'000;

class PaymentApi {
 public:
  // `gateway` and `banks` may be null: card operations then answer 503.
  PaymentApi(engine::Engine& engine, const auth::Keyring& keyring, channels::Gateway* gateway,
             const channels::BanksConfig* banks, notify::Notifier* notifier, risk::Engine* risk,
             PlatformClock* clock, std::uint32_t income_step_holders, Metrics& metrics, Post post_io);
  PaymentApi(const PaymentApi&) = delete;
  PaymentApi& operator=(const PaymentApi&) = delete;

  // Whether the request's path is one of the product routes.
  static bool handles(std::string_view target);
  void handle(const Request& request, Respond respond) noexcept;

 private:
  void dispatch(const Request& request, const Call& call, const auth::Principal& principal);
  void write(const Request& request, const Call& call, const auth::Principal& principal, PaymentOp op,
             std::uint64_t path_id);
  void batch(const Request& request, const Call& call, const auth::Principal& principal);
  // Charges or pays out to the step's card first when it names one, then submits.
  void charge_then_submit(PaymentStep step, const Call& call);
  void submit(payments::Command command, const Call& call);
  // Counts `steps` in flight, or answers 503 when that would pass the limit.
  bool admit(std::size_t steps, const Call& call);
  void withdraw(PaymentStep step, const Call& call);
  void cashier(PaymentStep step, const Call& call);
  void read(const Call& call, const auth::Principal& principal, std::string_view kind, std::uint64_t id,
            std::string_view query);
  void lookup(const Request& request, const Call& call);
  void reconcile(const Request& request, const Call& call);
  // Asks risk control about a step that moves a user's money, and writes the verdict into it.
  void assess(PaymentStep& step, std::string_view device, std::string_view city);
  void register_device(std::uint64_t user, std::string_view device, std::string_view city);
  void login(const Call& call, const auth::Principal& principal, std::uint64_t user, std::string_view device,
             std::string_view city);
  void clock(const Request& request, const Call& call, const auth::Principal& principal);
  std::uint64_t business_now() const;
  // The channel a card of `bank` is routed to first; 0 when none is configured.
  std::uint32_t primary_channel(std::string_view bank) const;

  engine::Engine& engine_;
  const auth::Keyring& keyring_;
  channels::Gateway* gateway_;
  const channels::BanksConfig* banks_;
  notify::Notifier* notifier_;
  risk::Engine* risk_;
  PlatformClock* clock_;  // null: business time is the system's and cannot be moved
  Metrics& metrics_;
  Post post_io_;
  std::atomic<std::size_t> in_flight_{0};
  IncomeRuns income_runs_;
};

}  // namespace capillary::server
