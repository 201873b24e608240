#include "server/card_retries.h"

#include <fmt/format.h>

#include <optional>

#include "core/assert.h"
#include "server/payout_resolver.h"

namespace capillary::server {

namespace {

// Keeps a reversal apart from the retry of the command it reverses, in the queue and the log.
constexpr std::uint64_t reversal_key = 0x7e7e'25a1'0000'0000;

std::uint64_t key_of(const CardCall& call) { return call.reversal ? call.command.id ^ reversal_key : call.command.id; }

}  // namespace

CardRetries::CardRetries(engine::Engine& engine, channels::Gateway& gateway, CardCallLog& log)
    : engine_(engine),
      gateway_(gateway),
      log_(log),
      retrying_("card-retries", retry_interval_max, [this](const Call& call) {
        if (!attempt(call)) return false;
        end(key_of(call));
        return true;
      }) {}

void CardRetries::resume(const Reclaim& reclaim) {
  for (auto& [key, logged] : log_.take_unfinished()) {
    CAP_ASSERT(key == key_of(logged));
    Call call{std::move(logged), nullptr};
    if (call.refund && !call.reversal) call.claim = reclaim(call.command);
    // A charge retried by its caller goes where this one went, as before the stop.
    if (!call.refund && call.channel != 0) gateway_.pin(call.reference, call.channel);
    fmt::print(stderr, "capillary: card {} {} was unfinished at the last stop; sending it again\n",
               call.refund ? "refund" : "charge", call.reference);
    retrying_.add(key, std::move(call), first_retry_at_start);
  }
}

Status CardRetries::add(Call call, std::chrono::seconds first) {
  const std::uint64_t key = key_of(call);
  Status logged = log_.put(key, call);
  retrying_.add(key, std::move(call), first);
  return logged;
}

Status CardRetries::retry(Call call) { return add(std::move(call), first_retry); }

std::int64_t card_charged(const payments::Command& command) {
  return command.kind == payments::CommandKind::top_up ? command.amount : command.funding.card;
}

std::string charge_reference(std::uint64_t command_id) { return fmt::format("{:016x}", command_id); }

Status CardRetries::journal_charged(const payments::Command& command, const channels::Card& card) {
  return retry({{command, card, card_charged(command), charge_reference(command.id), false, command.bank.channel},
                nullptr});
}

void CardRetries::reverse_if_refused(const payments::Command& command, const payments::Outcome& outcome,
                                     std::string bank_code) {
  if (outcome.result == payments::Result::ok || outcome.replayed != 0 ||
      command.bank.outcome != payments::BankOutcome::approved || card_charged(command) <= 0) {
    return;
  }
  const std::string charge = charge_reference(command.id);
  Call reversal{{command, {"charge-" + charge, std::move(bank_code)}, card_charged(command), "reversal-" + charge,
                 true, command.bank.channel, true},
                nullptr};
  fmt::print(stderr, "capillary: charge {} was approved for a command refused ({}); reversing {} fen on channel {}\n",
             charge, payments::name(outcome.result), reversal.amount, reversal.channel);
  if (Status status = add(std::move(reversal), std::chrono::seconds{0}); !status.is_ok()) {
    fmt::print(stderr, "capillary: reversal-{} is not logged ({}); it is sent until this process stops\n", charge,
               status.message());
  }
}

Status CardRetries::begin(const CardCall& call) { return log_.put(key_of(call), call); }

void CardRetries::charge(CardCall call, ChargeDone done) {
  CAP_ASSERT(!call.refund);
  auto logged = std::make_shared<Status>(Status::ok());
  // Before send runs on this thread, ahead of the call leaving; `done` runs after it.
  const channels::Card card = call.card;
  const std::int64_t amount = call.amount;
  std::string reference = call.reference;
  gateway_.charge(
      card, amount, std::move(reference),
      [logged, done = std::move(done)](channels::GatewayResult result) { done(std::move(result), *logged); },
      [this, call = std::move(call), logged](channels::ChannelId channel) mutable {
        call.channel = channel;
        *logged = begin(call);
        return logged->is_ok();
      });
}

// Left in the log, a finished call is sent again at the next start: the bank answers it as the
// same operation and the journal as a replay.
void CardRetries::end(std::uint64_t key) {
  if (Status status = log_.erase(key); !status.is_ok()) {
    fmt::print(stderr, "capillary: card call {:016x} finished but still logged: {}\n", key, status.message());
  }
}

// A charge logged before routing picked its channel, by a process that stopped before the bank
// answered: each channel the card could have gone to is asked. Approved or declined there is the
// answer; no channel holding the reference means no bank acted, and it is sent now. Any other
// answer (a channel that cannot say) leaves it for later.
bool CardRetries::locate(const Call& call, std::optional<channels::GatewayResult>* found) {
  for (const channels::ChannelId channel : gateway_.channels(call.card.bank_code)) {
    channels::GatewayResult asked = gateway_.query_blocking(channel, call.reference);
    if (asked.outcome == channels::GatewayOutcome::approved || asked.outcome == channels::GatewayOutcome::declined) {
      *found = std::move(asked);
      return true;
    }
    if (asked.failure != channels::FailureKind::unknown_reference) return false;
  }
  return true;
}

channels::GatewayResult CardRetries::send(const Call& call) {
  return channels::wait_for<channels::GatewayResult>([&](channels::GatewayCallback keep) {
    if (call.refund) {
      gateway_.refund(call.channel, call.card, call.amount, call.reference, std::move(keep));
    } else if (call.channel != 0) {
      gateway_.call_on(call.channel, channels::BankApi::debit_card, call.card, call.amount, call.reference,
                       std::move(keep));
    } else {
      gateway_.charge(call.card, call.amount, call.reference, std::move(keep),
                      [this, &call](channels::ChannelId channel) {
                        CardCall placed = call;
                        placed.channel = channel;
                        return begin(placed).is_ok();
                      });
    }
  });
}

bool CardRetries::attempt(const Call& call) {
  if (!call.reversal) {
    bool journaled = false;
    engine_.read([&](const engine::State& state) { journaled = state.payments.find_command(call.command.id) != nullptr; });
    if (journaled) return true;
  }
  std::optional<channels::GatewayResult> located;
  if (call.channel == 0 && !locate(call, &located)) return false;
  const channels::GatewayResult result = located ? std::move(*located) : send(call);
  if (result.outcome == channels::GatewayOutcome::rejected || result.outcome == channels::GatewayOutcome::withdrawn ||
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
  fmt::print(stderr, "capillary: card {} {} finished by the platform: the bank {}, {}{}\n",
             call.refund ? "refund" : "charge", call.reference, channels::name(result.outcome),
             payments::name(outcome.result), outcome.replayed != 0 ? " (journaled by a retry)" : "");
  if (!call.refund) reverse_if_refused(command, outcome, call.card.bank_code);
  return true;
}

}  // namespace capillary::server
