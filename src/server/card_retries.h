#pragma once
// Card charges and refunds the bank did not answer in time, finished by the platform. The call may
// have moved money, so nothing was journaled and the caller was answered 202 pending. This thread
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
// Each call is written to the card call log (card_call_log.h), synced, before the caller is told
// it is pending, and removed once finished; at start the calls left there are sent again.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
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

  // At start: time for a call the previous process sent to reach the bank before it is sent again.
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
  Status add(Call call, std::chrono::seconds first);

  engine::Engine& engine_;
  channels::Gateway& gateway_;
  CardCallLog& log_;
  BackoffWorker<Call> retrying_;
};

}  // namespace capillary::server
