#pragma once
// Card charges and refunds the bank did not answer in time, finished by the platform. The call may
// have moved money, so nothing was journaled and the caller was answered 202 pending (or the
// process stopped before it heard anything; see the card call log below). This thread
// sends the same call again — the same reference, on the same channel — which
// the bank answers as the same operation, or performs now if the first never reached it. Once the
// bank answers, the command is journaled with that answer, as the API would have: the order is
// paid, the wallet topped up, the refund made. A caller retrying with the same key meanwhile sends
// the same call and the same command: whichever is journaled first is applied, the other replays.
//
// The bank's word is an answer, or a failure other than a timeout (the bank did nothing, and being
// idempotent by reference it would have answered for an earlier attempt that did something). A
// timeout or a flow-control rejection is tried again, backing off to once a minute.
//
// A charge the bank approved for a command the engine then refused (the order paid meanwhile, the
// wallet part short) is reversed here: credited back to the card as a refund on the channel that
// charged it, under the reference `reversal-<charge reference>`. The money never reached the
// ledger, so nothing is journaled; reconciliation pairs the two statement lines.
//
// Every card call is written to the card call log (card_call_log.h), synced, with the channel it
// goes to, before it is sent (begin, or charge for a call routing places), and removed once its
// command is journaled or a bank refused it unsent (end). At start the calls left there are
// finished here: those the process was still waiting on when it stopped as well as those it had
// answered 202 pending. Each goes again to the bank it went to, which answers for a call it holds
// and acts on one it never received, so a call still on its way when the process stopped is
// charged once, wherever routing would send it now. A charge a log holds without a channel (logs
// written before calls named theirs) is first looked for at each channel its card could have gone
// to (locate).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "channels/gateway.h"
#include "engine/engine.h"
#include "payments/command.h"
#include "server/backoff_worker.h"
#include "server/card_call_log.h"

namespace capillary::server {

// What a command charged the card: a top-up's amount, a payment's card part.
std::int64_t card_charged(const payments::Command& command);
// The reference a command's card charge carries to the bank: its command id in hex.
std::string charge_reference(std::uint64_t command_id);

class CardRetries {
 public:
  static constexpr std::chrono::seconds first_retry{1};
  static constexpr std::chrono::seconds retry_interval_max{60};

  // At start: time for a call the previous process sent to reach its bank before it is sent
  // again. Sent to that bank, an early repeat is only answered as the same call; a charge without
  // a channel (an older log's) is looked for first, and one still on its way would not be found.
  static constexpr std::chrono::seconds first_retry_at_start{5};

  struct Call : CardCall {
    // Released once the command is journaled: a refund keeps its order's refund slot till then.
    std::shared_ptr<void> claim;
  };
  // Takes a refund's order's refund slot for a refund resumed at start.
  using Reclaim = std::function<std::shared_ptr<void>(const payments::Command& refund)>;

  CardRetries(engine::Engine& engine, channels::Gateway& gateway, CardCallLog& log);

  // Queues the calls the log held at open.
  void resume(const Reclaim& reclaim);
  // Charges `call`'s card, routed (call.channel is ignored), logging it with the channel it is
  // about to go to first: a call that could not be logged is not sent, and `done` gets
  // GatewayOutcome::withdrawn with the log's error. Otherwise `done` gets the gateway's result
  // and an ok Status; the call stays logged for the caller to end() or retry().
  using ChargeDone = std::function<void(channels::GatewayResult, Status logged)>;
  void charge(CardCall call, ChargeDone done);
  // Logs a call about to be sent, with channel 0 when routing is yet to pick one. A call that
  // could not be logged must not be sent.
  Status begin(const CardCall& call);
  // The call's command is journaled, or no bank acted on it: it leaves the log. The key is the
  // command's id.
  void end(std::uint64_t key);
  // Ok once the call is logged; it is retried even when logging failed, but then only until
  // this process stops, and the caller should not be told the platform will finish it.
  Status retry(Call call);
  // Reverses the charge of `command` (approved on command.bank.channel, for the card of
  // `bank_code`) when the engine refused the command; nothing otherwise, or for a replay, whose
  // charge is the first's, reversed then.
  void reverse_if_refused(const payments::Command& command, const payments::Outcome& outcome,
                          std::string bank_code);
  // A command whose card the bank charged but the engine could not take now (its queue full):
  // journaled by this thread, the charge sent again first as for a timeout.
  Status journal_charged(const payments::Command& command, const channels::Card& card);
  std::size_t pending() const { return retrying_.size(); }

 private:
  // One attempt; true when the command is journaled (by this or by the caller's retry), or for
  // a reversal, once the bank has answered it.
  bool attempt(const Call& call);
  bool locate(const Call& call, std::optional<channels::GatewayResult>* found);
  // Sends the call once, on its channel, or routed when it has none yet (logged with the channel
  // routing picks); waits for the result.
  channels::GatewayResult send(const Call& call);
  Status add(Call call, std::chrono::seconds first);

  engine::Engine& engine_;
  channels::Gateway& gateway_;
  CardCallLog& log_;
  BackoffWorker<Call> retrying_;
};

}  // namespace capillary::server
