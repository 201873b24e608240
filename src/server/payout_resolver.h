#pragma once
// Settles withdrawals whose payout got no answer from the bank (docs/payments.md, "When the bank
// does not answer"). A timed-out payout may have paid the card, so its hold stays: voiding it
// would pay the user twice. This thread asks the bank what it did with the payout's reference, on
// the channel the payout went to, and settles as the bank says: posted when it paid, voided when
// it declined or holds no such payout. While the question goes unanswered it asks again, backing
// off to once a minute.
//
// At start every withdrawal the state shows held is asked about, a few seconds later: the process
// may have stopped between the hold and the bank's answer. Those are settled only on the bank's
// answer. That the bank holds no such payout is not enough there: the payout may never have been
// sent, or a gateway tier in front may be making it under its own reference (a withdrawal that
// carries the bank's answer). Their hold expires and returns the money, or that tier settles.
//
// The settle's id is derived from the withdrawal's command id (settle_withdrawal), so the API and
// this thread settling the same withdrawal are one command, applied once.

#include <chrono>
#include <cstdint>
#include <string>

#include "channels/gateway.h"
#include "engine/engine.h"
#include "payments/command.h"
#include "server/backoff_worker.h"

namespace capillary::server {

// The reference a withdrawal's payout carries to the bank: its command id in hex.
std::string payout_reference(std::uint64_t withdraw_command);

// A gateway's result as the journal records it: approved, declined, or failed (no answer).
payments::BankAnswer bank_answer(const channels::GatewayResult& result);

// The platform's command settling withdrawal `withdrawal` (made by command `withdraw_command`)
// with the bank's answer: posts the hold when approved, voids it otherwise.
payments::Command settle_withdrawal(std::uint64_t withdraw_command, std::uint64_t withdrawal,
                                    const payments::BankAnswer& answer);

class PayoutResolver {
 public:
  // How long after a timeout the bank is first asked, and the longest wait between two asks.
  static constexpr std::chrono::seconds first_ask{1};
  static constexpr std::chrono::seconds ask_interval_max{60};
  // At start: time for a payout the previous process sent to reach the bank before it is asked.
  static constexpr std::chrono::seconds first_ask_at_start{5};

  // Starts the thread and queues every held withdrawal in `engine`'s state.
  PayoutResolver(engine::Engine& engine, channels::Gateway& gateway);

  // A payout of `withdrawal` (command `withdraw_command`) on `channel` timed out.
  void track(std::uint64_t withdrawal, std::uint64_t withdraw_command, std::uint32_t channel);
  // Withdrawals held while their payout's outcome is unknown.
  std::size_t unresolved() const { return asking_.size(); }

 private:
  struct Pending {
    std::uint64_t withdrawal;
    std::uint64_t command;
    std::uint32_t channel;
    bool sent_here;  // this process sent the payout: a bank holding none of it did nothing
  };
  // Asks the bank once; true when done: settled, no longer held, or left to expire.
  bool resolve(const Pending& pending);

  engine::Engine& engine_;
  channels::Gateway& gateway_;
  BackoffWorker<Pending> asking_;
};

}  // namespace capillary::server
