#include "server/payout_resolver.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>

#include "core/assert.h"
#include "core/this_thread.h"
#include "server/payment_json.h"

namespace capillary::server {

std::string payout_reference(std::uint64_t withdraw_command) { return fmt::format("{:016x}", withdraw_command); }

payments::BankAnswer bank_answer(const channels::GatewayResult& result) {
  payments::BankAnswer answer{};
  answer.channel = result.channel_id;
  switch (result.outcome) {
    case channels::GatewayOutcome::approved: answer.outcome = payments::BankOutcome::approved; break;
    case channels::GatewayOutcome::declined: answer.outcome = payments::BankOutcome::declined; break;
    default: answer.outcome = payments::BankOutcome::failed; break;
  }
  if (answer.outcome != payments::BankOutcome::failed && !result.bank_reference.empty()) {
    answer.reference = bank_reference_hash(result.bank_reference);
  }
  return answer;
}

// Same derivation as the ids of API commands (the caller's id seeding its key), with the
// withdrawal's command id as the caller: one settle per withdrawal, whoever sends it.
payments::Command settle_withdrawal(std::uint64_t withdraw_command, std::uint64_t withdrawal,
                                    const payments::BankAnswer& answer) {
  constexpr std::string_view key = "settle";
  payments::Command settle{};
  settle.kind = payments::CommandKind::withdraw_settle;
  settle.id = XXH3_64bits_withSeed(key.data(), key.size(), withdraw_command);
  if (settle.id == 0) settle.id = 1;
  settle.request_hash = settle.id;
  settle.principal = payments::principal(payments::PartyKind::platform, 0);
  settle.target = withdrawal;
  settle.bank = answer;
  return settle;
}

PayoutResolver::PayoutResolver(engine::Engine& engine, channels::Gateway& gateway)
    : engine_(engine), gateway_(gateway) {
  const SteadyClock::time_point due = SteadyClock::now() + first_ask_at_start;
  engine_.read([&](const engine::State& state) {
    for (const payments::WithdrawalRecord& held : state.payments.held_withdrawals()) {
      const ledger::TransferRecord* hold = state.ledger.find_transfer(held.hold_transfer);
      CAP_ASSERT(hold != nullptr);
      pending_.push_back({held.id, hold->transfer.user_data, held.channel, false, due, first_ask});
    }
  });
  if (!pending_.empty()) {
    fmt::print(stderr, "capillary: {} withdrawals held with their payout unsettled; asking their banks\n",
               pending_.size());
  }
  thread_ = std::thread([this] {
    name_this_thread("payout-resolver");
    run();
  });
}

PayoutResolver::~PayoutResolver() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void PayoutResolver::track(std::uint64_t withdrawal, std::uint64_t withdraw_command, std::uint32_t channel) {
  {
    std::lock_guard lock(mutex_);
    const bool tracked = std::any_of(pending_.begin(), pending_.end(),
                                     [&](const Pending& pending) { return pending.withdrawal == withdrawal; });
    if (tracked) return;
    pending_.push_back({withdrawal, withdraw_command, channel, true, SteadyClock::now() + first_ask, first_ask});
  }
  wake_.notify_one();
}

std::size_t PayoutResolver::unresolved() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

// The list stays short (timed-out payouts), so the soonest is found by a scan.
void PayoutResolver::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto soonest = std::min_element(pending_.begin(), pending_.end(),
                                          [](const Pending& a, const Pending& b) { return a.due < b.due; });
    if (soonest == pending_.end()) {
      wake_.wait(lock);
      continue;
    }
    if (soonest->due > SteadyClock::now()) {
      wake_.wait_until(lock, soonest->due);
      continue;
    }
    const Pending asking = *soonest;
    lock.unlock();
    const bool settled = resolve(asking);
    lock.lock();
    const auto found = std::find_if(pending_.begin(), pending_.end(),
                                    [&](const Pending& pending) { return pending.withdrawal == asking.withdrawal; });
    CAP_ASSERT(found != pending_.end());
    if (settled) {
      pending_.erase(found);
    } else {
      found->interval = std::min(ask_interval_max, 2 * found->interval);
      found->due = SteadyClock::now() + found->interval;
    }
  }
}

bool PayoutResolver::resolve(const Pending& pending) {
  bool held = false;
  engine_.read([&](const engine::State& state) {
    const payments::WithdrawalRecord* withdrawal = state.payments.find_withdrawal(pending.withdrawal);
    held = withdrawal != nullptr && withdrawal->state == payments::WithdrawalState::held;
  });
  if (!held) return true;  // settled meanwhile: by the API's retry, or the hold expired
  const channels::GatewayResult asked = gateway_.query_blocking(pending.channel, payout_reference(pending.command));
  const bool none = asked.failure == channels::FailureKind::unknown_reference;
  const bool answered = asked.outcome == channels::GatewayOutcome::approved ||
                        asked.outcome == channels::GatewayOutcome::declined || none;
  if (!answered) return false;
  if (none && !pending.sent_here) {
    fmt::print(stderr, "capillary: withdrawal {}: its bank holds no payout {}; the hold stays until it expires\n",
               pending.withdrawal, payout_reference(pending.command));
    return true;
  }
  const payments::Outcome settled =
      engine_.execute({settle_withdrawal(pending.command, pending.withdrawal, bank_answer(asked))})[0];
  fmt::print(stderr, "capillary: withdrawal {} settled after its payout timed out: the bank {}, {}\n",
             pending.withdrawal,
             asked.outcome == channels::GatewayOutcome::approved   ? "paid it"
             : asked.outcome == channels::GatewayOutcome::declined ? "declined it"
                                                                   : "holds no such payout",
             payments::name(settled.result));
  return true;
}

}  // namespace capillary::server
