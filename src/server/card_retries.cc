#include "server/card_retries.h"

#include <fmt/format.h>

#include <future>

#include "server/payout_resolver.h"

namespace capillary::server {

CardRetries::CardRetries(engine::Engine& engine, channels::Gateway& gateway)
    : engine_(engine),
      gateway_(gateway),
      retrying_("card-retries", retry_interval_max, [this](const Call& call) { return attempt(call); }) {}

void CardRetries::retry(Call call) {
  const std::uint64_t key = call.command.id;
  retrying_.add(key, std::move(call), first_retry);
}

namespace {

// Keeps a reversal apart from the retry of the command it reverses in the worker's queue.
constexpr std::uint64_t reversal_key = 0x7e7e'25a1'0000'0000;

}  // namespace

std::int64_t card_charged(const payments::Command& command) {
  return command.kind == payments::CommandKind::top_up ? command.amount : command.funding.card;
}

std::string charge_reference(std::uint64_t command_id) { return fmt::format("{:016x}", command_id); }

void CardRetries::journal_charged(const payments::Command& command, const channels::Card& card) {
  retry({command, card, card_charged(command), charge_reference(command.id), false, command.bank.channel, nullptr});
}

void CardRetries::reverse_if_refused(const payments::Command& command, const payments::Outcome& outcome,
                                     std::string bank_code) {
  if (outcome.result == payments::Result::ok || outcome.replayed != 0 ||
      command.bank.outcome != payments::BankOutcome::approved || card_charged(command) <= 0) {
    return;
  }
  const std::string charge = charge_reference(command.id);
  Call reversal{command, {"charge-" + charge, std::move(bank_code)}, card_charged(command), "reversal-" + charge,
                true, command.bank.channel, nullptr, true};
  fmt::print(stderr, "capillary: charge {} was approved for a command refused ({}); reversing {} fen on channel {}\n",
             charge, payments::name(outcome.result), reversal.amount, reversal.channel);
  retrying_.add(command.id ^ reversal_key, std::move(reversal), std::chrono::seconds{0});
}

bool CardRetries::attempt(const Call& call) {
  if (!call.reversal) {
    bool journaled = false;
    engine_.read([&](const engine::State& state) { journaled = state.payments.find_command(call.command.id) != nullptr; });
    if (journaled) return true;
  }
  std::promise<channels::GatewayResult> answered;
  const auto keep = [&answered](channels::GatewayResult result) { answered.set_value(std::move(result)); };
  if (call.refund) {
    gateway_.refund(call.channel, call.card, call.amount, call.reference, keep);
  } else {
    gateway_.call_on(call.channel, channels::BankApi::debit_card, call.card, call.amount, call.reference, keep);
  }
  const channels::GatewayResult result = answered.get_future().get();
  if (result.outcome == channels::GatewayOutcome::rejected ||
      (result.outcome == channels::GatewayOutcome::failed && result.failure == channels::FailureKind::timeout)) {
    return false;
  }
  if (call.reversal) {
    fmt::print(stderr, "capillary: reversal {}: the bank {}{}\n", call.reference, channels::name(result.outcome),
               result.outcome == channels::GatewayOutcome::approved ? "" : "; reconciliation lists the charge");
    return true;
  }
  payments::Command command = call.command;
  command.bank = bank_answer(result);
  const payments::Outcome outcome = engine_.execute({command})[0];
  fmt::print(stderr, "capillary: card {} {} finished after a bank timeout: the bank {}, {}{}\n",
             call.refund ? "refund" : "charge", call.reference, channels::name(result.outcome),
             payments::name(outcome.result), outcome.replayed != 0 ? " (journaled by a retry)" : "");
  if (!call.refund) reverse_if_refused(command, outcome, call.card.bank_code);
  return true;
}

}  // namespace capillary::server
