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
// What is pending lives in memory: after a restart a charge still unanswered is finished by the
// caller's retry with the same key, or shows in reconciliation as the bank's alone.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "channels/gateway.h"
#include "engine/engine.h"
#include "payments/command.h"
#include "server/backoff_worker.h"

namespace capillary::server {

// What a command charged the card: a top-up's amount, a payment's card part.
std::int64_t card_charged(const payments::Command& command);
// The reference a command's card charge carries to the bank: its command id in hex.
std::string charge_reference(std::uint64_t command_id);

class CardRetries {
 public:
  static constexpr std::chrono::seconds first_retry{1};
  static constexpr std::chrono::seconds retry_interval_max{60};

  struct Call {
    payments::Command command;  // journaled with the bank's answer
    channels::Card card;
    std::int64_t amount = 0;
    std::string reference;
    bool refund = false;
    // The channel the first call went to: the bank that may have acted.
    std::uint32_t channel = 0;
    // Released once the command is journaled: a refund keeps its order's refund slot till then.
    std::shared_ptr<void> claim;
    bool reversal = false;  // a refund of a charge that was never journaled: nothing to journal
  };

  CardRetries(engine::Engine& engine, channels::Gateway& gateway);

  void retry(Call call);
  // Reverses the charge of `command` (approved on command.bank.channel, for the card of
  // `bank_code`) when the engine refused the command; nothing otherwise, or for a replay, whose
  // charge is the first's, reversed then.
  void reverse_if_refused(const payments::Command& command, const payments::Outcome& outcome,
                          std::string bank_code);
  // A command whose card the bank charged but the engine could not take now (its queue full):
  // journaled by this thread, the charge sent again first as for a timeout.
  void journal_charged(const payments::Command& command, const channels::Card& card);
  std::size_t pending() const { return retrying_.size(); }

 private:
  // One attempt; true when the command is journaled (by this or by the caller's retry), or for
  // a reversal, once the bank has answered it.
  bool attempt(const Call& call);

  engine::Engine& engine_;
  channels::Gateway& gateway_;
  BackoffWorker<Call> retrying_;
};

}  // namespace capillary::server
