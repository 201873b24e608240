#pragma once
// What the payments engine calls before journaling a top-up, a card-funded payment or a
// withdrawal: route the card to a channel, pass flow control, call the bank, and hand back one
// result to record in the journaled command.
//
//   channels::Gateway gateway(config, connector, clock);
//   gateway.charge({token, "ICBC"}, 12'34, "topup-000042", [](channels::GatewayResult result) {
//     // result.outcome: approved (bank_reference set), declined (decline_reason), failed
//     // (failure says why; after a timeout retry with the same reference), or rejected
//     // (rejection + retry_after_s: answer 429/503 with Retry-After, nothing was sent).
//   });
//
// A caller that must write down which bank a call went to before it goes (card_retries.h) passes
// a BeforeSend: it runs once a channel has admitted the call, and returning false withdraws it
// unsent (GatewayOutcome::withdrawn).
//
// A rejected call answers before charge() returns, on the caller's thread; an admitted one
// answers on the connector's thread. The config, connector and clock must outlive the gateway.
//
// A call that timed out may have moved money at its bank, so until a later call with the same
// reference gets an answer, that reference is pinned to the channel it went to: the retry goes
// there or waits (rejected), and never reaches a fallback bank that would act a second time.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "channels/config.h"
#include "channels/connector.h"
#include "channels/flow_control.h"
#include "channels/router.h"
#include "core/clock.h"

namespace capillary::channels {

struct Card {
  std::string token;
  std::string bank_code;
};

enum class GatewayOutcome : std::uint8_t { approved, declined, failed, rejected, withdrawn };
std::string_view name(GatewayOutcome outcome);

struct GatewayResult {
  GatewayOutcome outcome = GatewayOutcome::rejected;
  ChannelId channel_id = 0;  // the channel called, or withdrawn from; 0 when rejected
  std::string bank_reference;
  std::string decline_reason;
  FailureKind failure = FailureKind::none;
  Rejection rejection = Rejection::none;
  std::uint32_t retry_after_s = 0;  // set when rejected
  std::chrono::microseconds latency{0};
};

using GatewayCallback = std::function<void(GatewayResult)>;
// Told the channel a call is about to leave for, on the caller's thread; false withdraws the call.
using BeforeSend = std::function<bool(ChannelId)>;

class Gateway {
 public:
  Gateway(const BanksConfig& config, Connector& connector, const Clock& clock);
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Charges the card (the bank's debit_card). amount_fen > 0.
  void charge(const Card& card, std::int64_t amount_fen, std::string reference,
              GatewayCallback callback, BeforeSend before_send = {});
  // Pays out to the card (the bank's credit_card). amount_fen > 0.
  void payout(const Card& card, std::int64_t amount_fen, std::string reference,
              GatewayCallback callback);
  void call(BankApi api, const Card& card, std::int64_t amount_fen, std::string reference,
            GatewayCallback callback, BeforeSend before_send = {});
  // Credits a card payment back (the bank's credit_card, as a refund) on `channel_id`, the channel
  // that charged it: a refund is not routed, since the bank that holds the charge must return it.
  // Flow control is that channel's credit_card; a channel not configured is rejected as no_route.
  void refund(ChannelId channel_id, const Card& card, std::int64_t amount_fen,
              std::string reference, GatewayCallback callback);

  // A charge or a payout on `channel_id` only, under that channel's flow control: a charge sent
  // again must reach the bank that may already have made it, and a withdrawal is paid out by the
  // channel whose clearing account holds it, the one to ask if the answer never comes.
  void call_on(ChannelId channel_id, BankApi api, const Card& card, std::int64_t amount_fen, std::string reference,
               GatewayCallback callback);
  // What the bank behind `channel_id` did with `reference` (Connector::query): approved or
  // declined as it answered the call, or failed with unknown_reference when it did nothing. Not
  // flow-controlled: asked rarely, by the one thread that resolves timed-out calls.
  void query(ChannelId channel_id, std::string reference, GatewayCallback callback);

  // The channels a card of `bank_code` may be charged on, primary first.
  std::span<const ChannelId> channels(std::string_view bank_code) const { return router_.channels(bank_code); }

  // Routes `reference` to `channel_id` until the bank answers for it, as a timeout there does: for
  // a call an earlier process sent there and never heard back about.
  void pin(const std::string& reference, ChannelId channel_id);

  // Wait for the result; never from a connector thread.
  GatewayResult charge_blocking(const Card& card, std::int64_t amount_fen, std::string reference);
  GatewayResult payout_blocking(const Card& card, std::int64_t amount_fen, std::string reference);
  GatewayResult query_blocking(ChannelId channel_id, std::string reference);

  std::vector<ApiFlowSnapshot> snapshot();
  // Prometheus text lines for the server's /metrics.
  std::string render_metrics();

 private:
  // A call on one channel, admitted by that channel's flow control alone.
  void send_on(ChannelId channel_id, BankApi api, BankRequest request, GatewayCallback callback,
               const BeforeSend& before_send = {});
  // Sends an admitted call, unless before_send withdraws it, and answers with the channel's result.
  void send(BankApi api, const Routed& routed, BankRequest request, GatewayCallback callback,
            const BeforeSend& before_send = {});
  GatewayResult call_blocking(BankApi api, const Card& card, std::int64_t amount_fen,
                              std::string reference);
  // The channel a timed-out call with this reference went to, or 0.
  ChannelId pinned(const std::string& reference);
  void pin_or_release(const std::string& reference, ChannelId channel_id, const BankResponse& response);
  void pin_locked(const std::string& reference, ChannelId channel_id);  // pins_mutex_ held

  Connector& connector_;
  const Clock& clock_;
  Router router_;
  std::mutex pins_mutex_;
  absl::flat_hash_map<std::string, ChannelId> pins_;  // guarded by pins_mutex_
  std::deque<std::string> pin_order_;                 // oldest first; guarded by pins_mutex_
};

}  // namespace capillary::channels
