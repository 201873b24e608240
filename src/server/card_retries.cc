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

bool CardRetries::attempt(const Call& call) {
  bool journaled = false;
  engine_.read([&](const engine::State& state) { journaled = state.payments.find_command(call.command.id) != nullptr; });
  if (journaled) return true;
  std::promise<channels::GatewayResult> answered;
  const auto keep = [&answered](channels::GatewayResult result) { answered.set_value(std::move(result)); };
  if (call.refund) {
    gateway_.refund(call.channel, call.card, call.amount, call.reference, keep);
  } else {
    gateway_.charge(call.card, call.amount, call.reference, keep);
  }
  const channels::GatewayResult result = answered.get_future().get();
  if (result.outcome == channels::GatewayOutcome::rejected ||
      (result.outcome == channels::GatewayOutcome::failed && result.failure == channels::FailureKind::timeout)) {
    return false;
  }
  payments::Command command = call.command;
  command.bank = bank_answer(result);
  const payments::Outcome outcome = engine_.execute({command})[0];
  fmt::print(stderr, "capillary: card {} {} finished after a bank timeout: the bank {}, {}{}\n",
             call.refund ? "refund" : "charge", call.reference, channels::name(result.outcome),
             payments::name(outcome.result), outcome.replayed != 0 ? " (journaled by a retry)" : "");
  return true;
}

}  // namespace capillary::server
