#pragma once
// The product routes (docs/payments-api.md): authenticate the caller, parse the request into a
// payment command, do what must happen before journaling (charge a card through the bank
// channels), submit it to the engine and answer once it is durable. Like Routes, it never blocks
// an io thread: engine and bank callbacks hand their answers back through `post_io`.

#include <absl/container/flat_hash_set.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
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
#include "server/card_retries.h"
#include "server/payout_resolver.h"
#include "server/routes.h"

namespace capillary::server {

// Payment steps handed to the engine and not yet answered, across all connections. About a
// quarter of a second of work at the engine's batch rate: enough to keep every journal entry
// full, little enough that an admitted request never waits long behind others.
inline constexpr std::size_t payment_steps_in_flight_max = 20'000;

class PaymentApi;

// An order's claim to be refunded by one request at a time, from the API's read of the order
// until the refund's journal answer. It is released before that answer goes out, so the caller's
// next refund is never refused as in progress, or, when the refund fails earlier, as the last copy
// goes.
class RefundClaim {
 public:
  RefundClaim(PaymentApi& api, std::uint64_t order) : api_(api), order_(order) {}
  RefundClaim(const RefundClaim&) = delete;
  RefundClaim& operator=(const RefundClaim&) = delete;
  ~RefundClaim() { release(); }
  void release() noexcept;

 private:
  PaymentApi& api_;
  std::uint64_t order_;
  std::atomic<bool> released_{false};
};

class PaymentApi {
 public:
  // `gateway` and `banks` may be null: card operations then answer 503. With a gateway, the card
  // calls left pending are kept in `card_calls`, and those it holds from a previous process are
  // sent again.
  PaymentApi(engine::Engine& engine, const auth::Keyring& keyring, channels::Gateway* gateway,
             const channels::BanksConfig* banks, CardCallLog* card_calls, notify::Notifier* notifier,
             risk::Engine* risk,
             PlatformClock* clock, std::uint32_t income_step_holders, Metrics& metrics, Post post_io);
  PaymentApi(const PaymentApi&) = delete;
  PaymentApi& operator=(const PaymentApi&) = delete;

  // Whether the request's path is one of the product routes.
  static bool handles(std::string_view target);
  void handle(const Request& request, Respond respond) noexcept;
  // Prometheus lines of its own: card calls and payouts whose outcome is still unknown.
  std::string render_metrics() const;

 private:
  void dispatch(const Request& request, const Call& call, const auth::Principal& principal);
  void write(const Request& request, const Call& call, const auth::Principal& principal, PaymentOp op,
             std::uint64_t path_id);
  void batch(const Request& request, const Call& call, const auth::Principal& principal);
  // Charges or pays out to the step's card first when it names one, then submits.
  void charge_then_submit(PaymentStep step, const Call& call);
  // `claim` (a refund's) is released once the command's answer is back from the engine. A command
  // carrying a card charge the bank approved names the card in `charged`: if the engine refuses the
  // command, the charge is reversed (card_retries.h).
  // `card_logged`: the command carries a card call's answer, whose record in the card call log
  // goes once the command is journaled or refused here.
  void submit(payments::Command command, const Call& call, std::shared_ptr<RefundClaim> claim = nullptr,
              const std::optional<channels::Card>& charged = std::nullopt, bool card_logged = false);
  // Counts `steps` in flight, or answers 503 when that would pass the limit.
  bool admit(std::size_t steps, const Call& call);
  void withdraw(PaymentStep step, const Call& call);
  void settle(const Call& call, const payments::Command& settle);
  // `given`: the bank's answer when the request carried it.
  void answer_withdrawal(const Call& call, std::uint64_t command, std::uint64_t withdrawal,
                         const payments::BankAnswer* given);
  // Credits a refund's card part back through the bank first when it has one, then submits.
  void refund(PaymentStep step, const Call& call);
  // Asks the bank to credit command.funding.card to the card that paid the order on `channel`;
  // `claim` keeps the order's refund slot until the refund is journaled.
  void credit_card_then_submit(payments::Command command, std::uint32_t channel,
                               std::shared_ptr<RefundClaim> claim, const Call& call);
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
  // The bank code a channel serves (the route it is primary for, else the first that uses it).
  std::string bank_code_of(std::uint32_t channel) const;

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
  // Orders with a refund between the API's read and its journal answer: a second refund of the same
  // order is refused (409) rather than asking the bank for a card part the first may have taken.
  // Bounded by the requests in flight.
  friend class RefundClaim;
  std::mutex refunding_mutex_;
  absl::flat_hash_set<std::uint64_t> refunding_orders_;  // guarded by refunding_mutex_
  IncomeRuns income_runs_;
  std::unique_ptr<PayoutResolver> payouts_;     // with bank channels only
  std::unique_ptr<CardRetries> card_retries_;  // likewise
};

}  // namespace capillary::server
