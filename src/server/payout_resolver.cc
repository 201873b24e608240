#include "server/payout_resolver.h"

#include <fmt/format.h>
#include <xxhash.h>


#include "core/assert.h"
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
    : engine_(engine),
      gateway_(gateway),
      asking_("payout-resolver", ask_interval_max, [this](const Pending& pending) { return resolve(pending); }) {
  std::size_t held_count = 0;
  engine_.read([&](const engine::State& state) {
    for (const payments::WithdrawalRecord& held : state.payments.held_withdrawals()) {
      const ledger::TransferRecord* hold = state.ledger.find_transfer(held.hold_transfer);
      CAP_ASSERT(hold != nullptr);
      asking_.add(held.id, {held.id, hold->transfer.user_data, held.channel, false}, first_ask_at_start);
      ++held_count;
    }
  });
  if (held_count != 0) {
    fmt::print(stderr, "capillary: {} withdrawals held with their payout unsettled; asking their banks\n",
               held_count);
  }
}

void PayoutResolver::track(std::uint64_t withdrawal, std::uint64_t withdraw_command, std::uint32_t channel) {
  asking_.add(withdrawal, {withdrawal, withdraw_command, channel, true}, first_ask);
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
