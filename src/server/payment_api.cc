#include "server/payment_api.h"

#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <iterator>
#include <memory>
#include <optional>
#include <utility>

#include "core/assert.h"
#include "payments/accounts.h"
#include "payments/limits.h"
#include "server/authenticate.h"
#include "server/call.h"
#include "server/product_json.h"
#include "server/product_reads.h"

namespace capillary::server {
namespace {

constexpr std::size_t idempotency_key_bytes_max = 64;

constexpr std::array<std::string_view, 15> route_prefixes{
    "/v1/users",         "/v1/merchants",      "/v1/orders",       "/v1/qr-payments", "/v1/red-packets",
    "/v1/campaigns",     "/v1/payments/",      "/v1/lookup/orders", "/v1/reconciliations",
    "/v1/institutions",  "/v1/funds",          "/v1/products",     "/v1/standing-orders",
    "/v1/platform/clock", "/v1/withdrawals"};

// The bank code a refund names on a channel no route uses (a channel the platform's gateway tier
// charged through and reported in a batch): the bank finds the charge by the order, not the code.
constexpr std::string_view unrouted_bank_code = "UNROUTED";

// Mismatches a reconciliation lists in full; past it only their count grows.
constexpr std::size_t reconciliation_mismatches_max = 10'000;

// "/v1/orders/7/pay" → {"orders", "7", "pay"}; at most four segments after /v1.
struct ProductPath {
  std::array<std::string_view, 4> segments{};
  std::size_t count = 0;
};

std::optional<ProductPath> split(std::string_view path) {
  if (!path.starts_with("/v1/")) return std::nullopt;
  path.remove_prefix(4);
  ProductPath result;
  while (!path.empty()) {
    const std::size_t slash = path.find('/');
    const std::string_view segment = path.substr(0, slash);
    if (segment.empty() || result.count == result.segments.size()) return std::nullopt;
    result.segments[result.count++] = segment;
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  }
  return result;
}

payments::PartyKind party_kind(auth::PrincipalKind kind) {
  switch (kind) {
    case auth::PrincipalKind::platform: return payments::PartyKind::platform;
    case auth::PrincipalKind::merchant: return payments::PartyKind::merchant;
    case auth::PrincipalKind::partner: return payments::PartyKind::partner;
    case auth::PrincipalKind::user: return payments::PartyKind::user;
  }
  return payments::PartyKind::none;
}

std::uint64_t principal_word(const auth::Principal& principal) {
  return payments::principal(party_kind(principal.kind), principal.id);
}

bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > idempotency_key_bytes_max) return false;
  for (const char c : key) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

// The command's id: the caller and its key, so two callers' keys never collide with each other.
std::uint64_t command_id(std::uint64_t principal, std::string_view key) {
  const std::uint64_t id = XXH3_64bits_withSeed(key.data(), key.size(), principal);
  return id == 0 ? 1 : id;
}

std::uint64_t request_hash(std::string_view method, std::string_view target, std::string_view canonical) {
  std::string text;
  text.reserve(method.size() + target.size() + canonical.size() + 2);
  text.append(method).append("\n").append(target).append("\n").append(canonical);
  return XXH3_64bits(text.data(), text.size());
}

unsigned status_of(payments::Result result) {
  switch (result) {
    case payments::Result::ok: return 200;
    case payments::Result::idempotency_key_reused: return 409;
    case payments::Result::forbidden: return 403;
    default: return 422;
  }
}

Response json(unsigned status, std::string body) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

ApiError refused(engine::Submit outcome) {
  if (outcome == engine::Submit::stopped) return {503, "stopping", "the engine is shutting down", {}};
  return {503, "overloaded", "the engine's queue is full; retry after a moment", {}};
}

// A card call the bank did not answer in time: it may have moved money, so it is never recorded
// as failed.
bool timed_out(const channels::GatewayResult& result) {
  return result.outcome == channels::GatewayOutcome::failed && result.failure == channels::FailureKind::timeout;
}

// A card charge or refund whose bank answer did not come in time, left to the platform to finish
// once `logged` says the card call log holds it (card_retries.h). Unlogged, it is still retried,
// but a stop would forget it: the caller is told to retry with the same key.
Response bank_pending(const Status& logged) {
  if (!logged.is_ok()) {
    Response response = json(500, "");
    write_error(response.body, {500, "pending_not_recorded",
                                fmt::format("the bank has not answered and the call could not be recorded ({}); "
                                            "retry with the same idempotency key",
                                            logged.message()),
                                {}});
    return response;
  }
  return json(202, R"({"result":"pending","description":"the bank has not answered yet; the platform asks it )"
                   R"(again and records its answer, which the same idempotency key returns"})");
}

bool platform(const auth::Principal& principal) { return principal.kind == auth::PrincipalKind::platform; }

Response withdrawal_pending(std::uint64_t withdrawal) {
  return json(202, fmt::format(R"({{"result":"pending","value":"{}","description":"the bank has not answered )"
                               R"(yet; the platform asks it and settles: GET /v1/withdrawals/{}"}})",
                               withdrawal, withdrawal));
}

}  // namespace

PaymentApi::PaymentApi(engine::Engine& engine, const auth::Keyring& keyring, channels::Gateway* gateway,
                       const channels::BanksConfig* banks, CardCallLog* card_calls, notify::Notifier* notifier,
                       risk::Engine* risk,
                       PlatformClock* clock, std::uint32_t income_step_holders, Metrics& metrics,
                       Post post_io)
    : engine_(engine),
      keyring_(keyring),
      gateway_(gateway),
      banks_(banks),
      notifier_(notifier),
      risk_(risk),
      clock_(clock),
      metrics_(metrics),
      post_io_(std::move(post_io)),
      income_runs_(engine, income_step_holders),
      payouts_(gateway != nullptr ? std::make_unique<PayoutResolver>(engine, *gateway) : nullptr),
      card_retries_(gateway != nullptr ? std::make_unique<CardRetries>(engine, *gateway, *card_calls) : nullptr) {
  if (card_retries_ == nullptr) return;
  card_retries_->resume([this](const payments::Command& refund) {
    std::lock_guard lock(refunding_mutex_);
    refunding_orders_.insert(refund.target);
    return std::make_shared<RefundClaim>(*this, refund.target);
  });
}

bool PaymentApi::handles(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  for (std::string_view prefix : route_prefixes) {
    if (path.starts_with(prefix) &&
        (path.size() == prefix.size() || path[prefix.size()] == '/' || prefix.back() == '/')) {
      return true;
    }
  }
  return false;
}

void PaymentApi::handle(const Request& request, Respond respond) noexcept {
  const Call call(metrics_, Route::payments, std::move(respond));
  call.guarded([&] {
    const std::optional<auth::Principal> principal = authenticate(keyring_, request, call);
    if (principal) dispatch(request, call, *principal);
  });
}

void PaymentApi::dispatch(const Request& request, const Call& call, const auth::Principal& principal) {
  const std::size_t question = request.target.find('?');
  const std::string_view query = question == std::string_view::npos ? "" : request.target.substr(question + 1);
  const std::optional<ProductPath> path = split(request.target.substr(0, question));
  if (!path) return call.fail({404, "not_found", fmt::format("no route {}", request.target), {}});
  const auto& s = path->segments;
  const std::size_t n = path->count;
  const bool post = request.method == "POST";
  const bool get = request.method == "GET";
  std::uint64_t id = 0;
  if (n >= 2 && !parse_decimal(s[1], &id)) {
    if (!(n == 2 && (s[0] == "payments" || s[0] == "lookup" || s[0] == "platform"))) {
      return call.fail({400, "invalid_id", fmt::format("{} is not a decimal id", s[1]), "id"});
    }
  }
  if (!query.empty() && !(get && n == 3 && s[0] == "merchants" && s[2] == "settlements")) {
    return call.fail({400, "unknown_parameter", "this route takes no query parameters", {}});
  }
  if (post && !request.content_type.starts_with("application/json")) {
    return call.fail({415, "unsupported_media_type", "send the body as Content-Type: application/json", {}});
  }
  struct Write {
    std::string_view resource;
    std::size_t segments;
    std::string_view action;
    PaymentOp op;
  };
  static constexpr std::array<Write, 26> writes{{
      {"users", 1, "", PaymentOp::open_user},
      {"merchants", 1, "", PaymentOp::open_merchant},
      {"users", 3, "top-ups", PaymentOp::top_up},
      {"users", 3, "withdrawals", PaymentOp::withdraw},
      {"users", 3, "transfers", PaymentOp::transfer},
      {"users", 3, "bills", PaymentOp::pay_bill},
      {"orders", 1, "", PaymentOp::create_order},
      {"orders", 3, "cashier", PaymentOp::cashier},
      {"orders", 3, "pay", PaymentOp::pay},
      {"orders", 3, "confirm", PaymentOp::confirm},
      {"orders", 3, "refund", PaymentOp::refund},
      {"orders", 3, "close", PaymentOp::close},
      {"qr-payments", 1, "", PaymentOp::qr_pay},
      {"red-packets", 1, "", PaymentOp::create_red_packet},
      {"red-packets", 3, "claim", PaymentOp::claim_red_packet},
      {"campaigns", 1, "", PaymentOp::create_campaign},
      {"institutions", 1, "", PaymentOp::open_institution},
      {"funds", 1, "", PaymentOp::create_fund},
      {"funds", 3, "subscriptions", PaymentOp::fund_subscribe},
      {"funds", 3, "redemptions", PaymentOp::fund_redeem},
      {"funds", 3, "income", PaymentOp::fund_declare_income},
      {"funds", 3, "float", PaymentOp::fund_deposit_float},
      {"products", 1, "", PaymentOp::list_product},
      {"products", 3, "cancel", PaymentOp::cancel_product},
      {"standing-orders", 1, "", PaymentOp::place_standing_order},
      {"standing-orders", 3, "cancel", PaymentOp::cancel_standing_order},
  }};
  if (n == 2 && s[0] == "platform" && s[1] == "clock" && (post || get)) return clock(request, call, principal);
  if (post) {
    if (n == 2 && s[0] == "payments" && s[1] == "batch") return batch(request, call, principal);
    if (n == 1 && s[0] == "reconciliations") {
      if (!platform(principal)) return call.fail({403, "forbidden", "reconciliation is the platform's", {}});
      return reconcile(request, call);
    }
    if (n == 3 && s[0] == "users" && s[2] == "logins") return login(call, principal, id, request.device, request.city);
    if (n == 2 && s[0] == "lookup" && s[1] == "orders") {
      if (!platform(principal)) return call.fail({403, "forbidden", "order lookups are the platform's", {}});
      return lookup(request, call);
    }
    for (const Write& route : writes) {
      if (route.resource == s[0] && route.segments == n && (n == 1 || route.action == s[2])) {
        return write(request, call, principal, route.op, id);
      }
    }
  }
  if (get && n == 2 && (s[0] == "users" || s[0] == "merchants" || s[0] == "orders" || s[0] == "red-packets" ||
                        s[0] == "withdrawals")) {
    return read(call, principal, s[0], id, query);
  }
  if (get && n == 3 && s[0] == "merchants" && s[2] == "settlements") {
    return read(call, principal, "settlements", id, query);
  }
  if (const std::optional<ProductRead> wanted = product_read_of({s.data(), n}, id); get && wanted) {
    const engine::Submit submitted =
        engine_.submit_read([this, call, principal, read = *wanted](const engine::State& state) {
          std::string body;
          const unsigned status = answer_product_read(state, principal, read, business_now(), &body);
          return post_later(post_io_, [call, status, body = std::move(body)]() mutable {
            call.guarded([&] { call.answer(json(status, std::move(body))); });
          });
        });
    if (submitted != engine::Submit::accepted) call.fail(refused(submitted));
    return;
  }
  call.fail({404, "not_found", fmt::format("no route {} {}", request.method, request.target), {}});
}

void PaymentApi::write(const Request& request, const Call& call, const auth::Principal& principal,
                       PaymentOp op, std::uint64_t path_id) {
  const Caller caller{party_kind(principal.kind), principal.id};
  PaymentStep step;
  ApiError error;
  if (!parse_payment_request(request.body, op, path_id, caller, &step, &error)) return call.fail(error);
  if (op == PaymentOp::cashier) return cashier(std::move(step), call);
  if (!valid_key(request.idempotency_key)) {
    return call.fail({400, "missing_idempotency_key",
                      fmt::format("send an Idempotency-Key header of 1 to {} printable characters",
                                  idempotency_key_bytes_max),
                      {}});
  }
  if (step.bank_given && !platform(principal)) {
    return call.fail({403, "forbidden", "only the platform may send a bank's answer", "bank"});
  }
  const std::uint64_t principal_id = principal_word(principal);
  step.command.principal = principal_id;
  step.command.id = command_id(principal_id, request.idempotency_key);
  step.command.request_hash = request_hash(request.method, request.target, step.canonical);
  if (op == PaymentOp::create_red_packet) {
    // The split's randomness, decided here and journaled with the command.
    step.command.seed = XXH3_64bits_withSeed(&step.command.id, sizeof(step.command.id),
                                             static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  }
  // App traffic, signed by the user, is decided here with the device and place the app reports.
  // The platform's own callers (back ends, gateway tiers sending batches) run their own checks.
  if (principal.kind == auth::PrincipalKind::user) assess(step, request.device, request.city);
  if (op == PaymentOp::open_user) register_device(step.command.party, request.device, request.city);
  if (op == PaymentOp::withdraw) return withdraw(std::move(step), call);
  if (op == PaymentOp::refund) return refund(std::move(step), call);
  if (op == PaymentOp::open_merchant && !step.callback_url.empty()) {
    if (notifier_ == nullptr) {
      return call.fail({503, "notifications_unavailable", "this server sends no notifications", "callback_url"});
    }
    if (Status status = notifier_->set_callback_url(step.command.party, step.callback_url); !status.is_ok()) {
      return call.fail({400, "invalid_callback_url", status.message(), "callback_url"});
    }
  }
  charge_then_submit(std::move(step), call);
}

void PaymentApi::charge_then_submit(PaymentStep step, const Call& call) {
  if (!step.card.present) return submit(step.command, call);
  if (gateway_ == nullptr) {
    return call.fail({503, "card_channels_unavailable", "this server has no bank channels configured", "card"});
  }
  const std::int64_t amount =
      step.op == PaymentOp::top_up ? step.command.amount : step.command.funding.card;
  if (amount <= 0) return call.fail({400, "card_amount", "a card was given but no card amount", "card"});
  channels::Card card{step.card.token, step.card.bank};
  std::string reference = charge_reference(step.command.id);
  // Logged with its channel before it is sent: a process that stops before the bank answers
  // leaves it for the next to finish, at that bank (card_retries.h).
  card_retries_->charge({step.command, card, amount, reference, false, 0},
                   [this, call, command = step.command, card, amount,
                    reference](channels::GatewayResult result, Status logged) mutable {
                     call.guarded([&] {
                       if (result.outcome == channels::GatewayOutcome::withdrawn) {
                         return call.fail({503, "card_call_log_unavailable",
                                           fmt::format("the card call could not be recorded, so it was not sent: {}",
                                                       logged.message()),
                                           {}});
                       }
                       if (result.outcome == channels::GatewayOutcome::rejected) {
                         Response response;
                         response.status = 429;
                         response.retry_after_s = std::max<std::uint32_t>(1, result.retry_after_s);
                         write_error(response.body, {429, "channel_busy",
                                                     "the bank channel is at its limit; retry later", "card"});
                         return call.answer(std::move(response));
                       }
                       // No answer in time: the bank may have charged the card. Nothing is
                       // journaled; the platform sends the charge again until the bank answers,
                       // and so may the caller, with the same key (card_retries.h).
                       if (timed_out(result)) {
                         return call.answer(bank_pending(card_retries_->retry(
                             {{command, card, amount, reference, false, result.channel_id}, nullptr})));
                       }
                       command.bank = bank_answer(result);
                       const bool charged = command.bank.outcome == payments::BankOutcome::approved;
                       submit(command, call, nullptr, charged ? std::optional(card) : std::nullopt, true);
                     });
                   });
}

// Past payment_steps_in_flight_max the answer is an immediate 503 with Retry-After: on a peak
// day the excess is told to come back, while what was admitted keeps a bounded wait.
bool PaymentApi::admit(std::size_t steps, const Call& call) {
  if (in_flight_.fetch_add(steps) + steps > payment_steps_in_flight_max) {
    in_flight_.fetch_sub(steps);
    call.fail({503, "overloaded", "the platform is at capacity; retry after a moment", {}});
    return false;
  }
  return true;
}

void RefundClaim::release() noexcept {
  if (released_.exchange(true)) return;
  std::lock_guard lock(api_.refunding_mutex_);
  api_.refunding_orders_.erase(order_);
}

// A command carrying a card charge the bank approved is admitted past the limit: refused, it would
// leave a charged card with nothing journaled for it.
void PaymentApi::submit(payments::Command command, const Call& call, std::shared_ptr<RefundClaim> claim,
                        const std::optional<channels::Card>& charged, bool card_logged) {
  if (charged) {
    in_flight_.fetch_add(1);
  } else if (!admit(1, call)) {
    if (card_logged) card_retries_->end(command.id);
    return;
  }
  const engine::Submit submitted = engine_.submit_payments(
      {command}, [this, call, command, claim = std::move(claim), charged,
                  card_logged](std::span<const payments::Outcome> outcomes) {
        in_flight_.fetch_sub(1);
        if (claim) claim->release();
        if (card_logged) post_io_([this, id = command.id] { card_retries_->end(id); });
        const payments::Outcome outcome = outcomes[0];
        if (charged) card_retries_->reverse_if_refused(command, outcome, charged->bank_code);
        // A declared income day is paid out from here on, in steps (income_runs.h).
        if (command.kind == payments::CommandKind::fund_declare_income && outcome.result == payments::Result::ok) {
          income_runs_.start(command.target, command.a, command.party);
        }
        call.post([call, outcome] {
          call.guarded([&] {
            std::string body;
            write_outcome(body, outcome);
            call.answer(json(status_of(outcome.result), std::move(body)));
          });
        });
      });
  if (submitted != engine::Submit::accepted) {
    in_flight_.fetch_sub(1);
    if (charged && submitted == engine::Submit::overloaded) {
      return call.answer(bank_pending(card_retries_->journal_charged(command, *charged)));
    }
    if (card_logged) card_retries_->end(command.id);
    call.fail(refused(submitted));
  }
}

// Hold first (journaled), then ask the bank to pay out on the hold's channel, then settle: post
// the hold when the bank paid, void it when it declined or did nothing. When the bank does not
// answer in time it may have paid, so the hold stays and the answer is 202 pending: the payout
// resolver asks the bank and settles (payout_resolver.h). A retry with the same key answers the
// settled outcome, or pending again. If the process dies in between, the resolver asks at start.
void PaymentApi::withdraw(PaymentStep step, const Call& call) {
  if (step.card.present) {
    if (gateway_ == nullptr || banks_ == nullptr) {
      return call.fail({503, "card_channels_unavailable", "this server has no bank channels configured", "card"});
    }
    step.command.bank.channel = primary_channel(step.card.bank);
    if (step.command.bank.channel == 0) {
      return call.fail({422, "card_bank_unknown", fmt::format("no channel serves bank {}", step.card.bank), "card.bank"});
    }
  } else if (!step.bank_given) {
    return call.fail({400, "missing_field", "a withdrawal needs the card to pay out to", "card"});
  }
  const payments::BankAnswer given = step.command.bank;
  step.command.bank.outcome = payments::BankOutcome::none;
  step.command.bank.reference = 0;
  const engine::Submit submitted = engine_.submit_payments(
      {step.command}, [this, call, step, given](std::span<const payments::Outcome> outcomes) {
        const payments::Outcome held = outcomes[0];
        if (held.result != payments::Result::ok) {
          return post_io_([call, held] {
            call.guarded([&] {
              std::string body;
              write_outcome(body, held);
              call.answer(json(status_of(held.result), std::move(body)));
            });
          });
        }
        const auto withdrawal = static_cast<std::uint64_t>(held.value);
        if (held.replayed != 0) {
          return post_io_([this, call, command = step.command.id, withdrawal, step, given] {
            call.guarded([&] { answer_withdrawal(call, command, withdrawal, step.bank_given ? &given : nullptr); });
          });
        }
        post_io_([this, call, step, given, withdrawal] {
          call.guarded([&] {
            if (!step.card.present) return settle(call, settle_withdrawal(step.command.id, withdrawal, given));
            gateway_->call_on(
                step.command.bank.channel, channels::BankApi::credit_card, {step.card.token, step.card.bank},
                step.command.amount, payout_reference(step.command.id),
                [this, call, command = step.command.id, withdrawal](channels::GatewayResult result) {
                  call.guarded([&] {
                    if (timed_out(result)) {
                      payouts_->track(withdrawal, command, result.channel_id);
                      return call.answer(withdrawal_pending(withdrawal));
                    }
                    settle(call, settle_withdrawal(command, withdrawal, bank_answer(result)));
                  });
                });
          });
        });
      });
  if (submitted != engine::Submit::accepted) call.fail(refused(submitted));
}

// Journals the settle and answers with its outcome, whose value is the withdrawal's id.
void PaymentApi::settle(const Call& call, const payments::Command& settle) {
  const engine::Submit sent = engine_.submit_payments(
      {settle}, [this, call, withdrawal = settle.target](std::span<const payments::Outcome> outcomes) {
        payments::Outcome settled = outcomes[0];
        settled.value = static_cast<std::int64_t>(withdrawal);
        post_io_([call, settled] {
          call.guarded([&] {
            std::string body;
            write_outcome(body, settled);
            call.answer(json(status_of(settled.result), std::move(body)));
          });
        });
      });
  if (sent != engine::Submit::accepted) call.fail(refused(sent));
}

// A withdrawal asked for again. Settled: the settle's outcome, which sending the settle again
// answers (its id is the one journaled; a hold that expired unsettled answers withdrawal_settled).
// Held, with the bank's answer in the request (a gateway tier's retry after this process died
// before settling): settled with it. Held, with a card: pending, since the payout resolver may be
// asking the bank, and a payout sent again now could reach the bank after a void.
void PaymentApi::answer_withdrawal(const Call& call, std::uint64_t command, std::uint64_t withdrawal,
                                   const payments::BankAnswer* given) {
  const std::optional<payments::BankAnswer> answer = given != nullptr ? std::optional(*given) : std::nullopt;
  const engine::Submit submitted =
      engine_.submit_read([this, call, command, withdrawal, answer](const engine::State& state) {
        const payments::WithdrawalRecord* found = state.payments.find_withdrawal(withdrawal);
        CAP_ASSERT(found != nullptr);
        if (found->state == payments::WithdrawalState::held && !answer) {
          return post_later(post_io_, [call, withdrawal] { call.guarded([&] { call.answer(withdrawal_pending(withdrawal)); }); });
        }
        return post_later(post_io_, [this, call, command, withdrawal, answer] {
          call.guarded([&] { settle(call, settle_withdrawal(command, withdrawal, answer.value_or(payments::BankAnswer{}))); });
        });
      });
  if (submitted != engine::Submit::accepted) call.fail(refused(submitted));
}

namespace {

// The card part of a refund as the state is now: what the module will take from the card first
// (card first, then the other sources), or 0 when the bank has nothing to do — no card part, a
// refund the module will reject anyway, or a key already journaled, which the module answers
// from its idempotency record without a second call to the bank.
std::int64_t card_refund_part(const engine::State& state, const payments::Command& command) {
  if (state.payments.find_command(command.id) != nullptr) return 0;
  const payments::OrderRecord* order = state.payments.find_order(command.target);
  if (order == nullptr || order->merchant != command.party || order->state != payments::OrderState::paid ||
      command.amount <= 0 || command.amount > order->held) {
    return 0;
  }
  return std::min(command.amount, order->from_card);
}

}  // namespace

// The bank credits a refund's card part before the refund is journaled, on the channel that
// charged the card, and its answer travels in the command (as for a card payment), so replay never
// calls the bank. A retry with the same key after the refund was journaled gets the first answer
// again without a bank call; a retry before (say the process died) sends the same reference, which
// the bank answers as the same operation.
//
// One refund of an order at a time, from before the order is read until the refund is journaled:
// a second one would read the same card part and ask the bank to credit it again.
void PaymentApi::refund(PaymentStep step, const Call& call) {
  if (step.bank_given) return submit(step.command, call);
  const std::uint64_t order = step.command.target;
  {
    std::lock_guard lock(refunding_mutex_);
    if (!refunding_orders_.insert(order).second) {
      return call.fail({409, "refund_in_progress",
                        "another refund of this order is in progress; retry once it is answered", {}});
    }
  }
  auto hold = std::make_shared<RefundClaim>(*this, order);
  const engine::Submit submitted = engine_.submit_read(
      [this, call, command = step.command, hold](const engine::State& state) mutable {
        const payments::OrderRecord* found = state.payments.find_order(command.target);
        command.funding.card = card_refund_part(state, command);
        const std::uint32_t channel = command.funding.card > 0 ? found->channel : 0;
        return post_later(post_io_, [this, call, command, channel, hold] {
          call.guarded([&] {
            if (command.funding.card == 0) return submit(command, call, hold);
            credit_card_then_submit(command, channel, hold, call);
          });
        });
      });
  if (submitted != engine::Submit::accepted) {
    hold->release();
    call.fail(refused(submitted));
  }
}

void PaymentApi::credit_card_then_submit(payments::Command command, std::uint32_t channel,
                                         std::shared_ptr<RefundClaim> hold, const Call& call) {
  CAP_ASSERT(command.funding.card > 0 && channel != 0);
  if (gateway_ == nullptr || banks_ == nullptr) {
    hold->release();
    return call.fail({503, "card_channels_unavailable", "this server has no bank channels configured", {}});
  }
  // The platform keeps no card tokens: the refund names the order it returns, and the bank finds
  // the card through its own record of the charge on this channel.
  channels::Card card{fmt::format("order-{}", command.target), bank_code_of(channel)};
  std::string reference = fmt::format("refund-{:016x}", command.id);
  if (Status logged = card_retries_->begin({command, card, command.funding.card, reference, true, channel});
      !logged.is_ok()) {
    hold->release();
    return call.fail({503, "card_call_log_unavailable",
                      fmt::format("the card refund could not be recorded, so it was not sent: {}", logged.message()),
                      {}});
  }
  gateway_->refund(channel, card, command.funding.card, reference,
                   [this, call, command, channel, card, reference,
                    hold = std::move(hold)](channels::GatewayResult result) mutable {
                     call.guarded([&] {
                       if (result.outcome == channels::GatewayOutcome::rejected) {
                         card_retries_->end(command.id);
                         hold->release();
                         Response response;
                         response.status = channels::http_status(result.rejection);
                         response.retry_after_s = std::max<std::uint32_t>(1, result.retry_after_s);
                         write_error(response.body, {response.status, "channel_busy",
                                                     "the card's bank channel is at its limit; retry later", {}});
                         return call.answer(std::move(response));
                       }
                       // No answer in time: the bank may have credited the card. Nothing is
                       // journaled; the platform sends the refund again until the bank answers,
                       // keeping the order's refund slot till then (card_retries.h).
                       if (timed_out(result)) {
                         return call.answer(bank_pending(card_retries_->retry(
                             {{command, card, command.funding.card, reference, true, channel}, hold})));
                       }
                       command.bank = bank_answer(result);
                       submit(command, call, std::move(hold), std::nullopt, true);
                     });
                   });
}

namespace {

// The device the app reports, or the account's own default when it reports none.
std::uint64_t device_id(std::uint64_t user, std::string_view device) {
  if (!device.empty()) return XXH3_64bits(device.data(), device.size());
  return XXH3_64bits_withSeed(&user, sizeof(user), 0x646576696365);
}

std::uint32_t city_id(std::string_view city) {
  std::uint64_t id = 0;
  return parse_decimal(city, &id) && id <= UINT32_MAX ? static_cast<std::uint32_t>(id) : 0;
}

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace

// A new account's device and city are the ones it was opened from: familiar from the start.
void PaymentApi::register_device(std::uint64_t user, std::string_view device, std::string_view city) {
  if (risk_ == nullptr) return;
  risk::Event login;
  login.kind = risk::EventKind::login;
  login.user_id = user;
  login.device_id = device_id(user, device);
  login.city_id = city_id(city);
  login.timestamp_ns = now_ns();
  risk_->confirm(login);
}

// A login moves no money, so nothing is journaled: the decision goes to the risk log for audit
// and back to the app, which asks for a second factor on a challenge.
void PaymentApi::login(const Call& call, const auth::Principal& principal, std::uint64_t user,
                       std::string_view device, std::string_view city) {
  if (!platform(principal) && !(principal.kind == auth::PrincipalKind::user && principal.id == user)) {
    return call.fail({403, "forbidden", "a user logs in only as itself", {}});
  }
  if (risk_ == nullptr) return call.fail({503, "risk_unavailable", "this server runs no risk control", {}});
  risk::Event login;
  login.event_id = XXH3_64bits_withSeed(&user, sizeof(user), now_ns());
  login.kind = risk::EventKind::login;
  login.user_id = user;
  login.device_id = device_id(user, device);
  login.city_id = city_id(city);
  login.timestamp_ns = now_ns();
  const risk::Decision decision = risk_->decide(login);
  std::string body = fmt::format(R"({{"user":"{}","action":"{}","rule_set_version":{},"risk_score":{}}})", user,
                                 risk::action_name(decision.action), decision.rule_set_version,
                                 decision.risk_score);
  call.answer(json(200, std::move(body)));
}

void PaymentApi::assess(PaymentStep& step, std::string_view device, std::string_view city) {
  if (risk_ == nullptr) return;
  payments::Command& command = step.command;
  risk::Event event;
  switch (step.op) {
    case PaymentOp::pay:
    case PaymentOp::qr_pay:
    case PaymentOp::pay_bill:
      event.kind = risk::EventKind::payment;
      event.merchant_id = step.op == PaymentOp::pay ? 0 : command.counterparty;
      break;
    case PaymentOp::transfer:
      event.kind = risk::EventKind::transfer;
      event.payee_id = command.counterparty;
      break;
    case PaymentOp::withdraw:
      event.kind = risk::EventKind::withdrawal;
      break;
    default:
      return;
  }
  const payments::Funding& f = command.funding;
  event.event_id = command.id;
  event.channel = step.op == PaymentOp::qr_pay ? risk::Channel::offline_qr : risk::Channel::app;
  event.user_id = command.party;
  event.amount_fen = step.op == PaymentOp::pay ? f.wallet + f.red_packet + f.card + f.fund + f.credit : command.amount;
  event.device_id = device_id(command.party, device);
  event.city_id = city_id(city);
  event.timestamp_ns = now_ns();
  const risk::Decision decision = risk_->decide(event);
  switch (decision.action) {
    case risk::Action::allow: command.risk = payments::RiskVerdict::allow; break;
    case risk::Action::challenge: command.risk = payments::RiskVerdict::challenge; break;
    case risk::Action::deny: command.risk = payments::RiskVerdict::deny; break;
  }
  command.risk_rule_set = decision.rule_set_version;
}

std::uint32_t PaymentApi::primary_channel(std::string_view bank) const {
  if (banks_ == nullptr) return 0;
  for (const channels::RouteConfig& route : banks_->routes) {
    if (route.bank_code == bank && !route.channels.empty()) return route.channels.front();
  }
  return 0;
}

std::string PaymentApi::bank_code_of(std::uint32_t channel) const {
  CAP_ASSERT(banks_ != nullptr);
  const channels::RouteConfig* serving = nullptr;
  for (const channels::RouteConfig& route : banks_->routes) {
    if (!route.channels.empty() && route.channels.front() == channel) return route.bank_code;
    if (serving == nullptr && std::ranges::find(route.channels, channel) != route.channels.end()) serving = &route;
  }
  return std::string(serving != nullptr ? serving->bank_code : unrouted_bank_code);
}

namespace {

CashierView cashier_view(const engine::State& state, const payments::Command& command, std::uint32_t channel) {
  CashierView view;
  const payments::OrderRecord* order = state.payments.find_order(command.target);
  if (order == nullptr || (order->buyer != 0 && order->buyer != command.party)) return view;
  const auto available = [&](payments::AccountKind kind) -> std::int64_t {
    const ledger::Account* account = state.ledger.find_account(payments::account_id(kind, command.party));
    return account == nullptr ? 0 : account->credits_posted - account->debits_posted - account->debits_pending;
  };
  view.found = true;
  view.order = order->id;
  view.amount = order->amount;
  view.state = order->state;
  view.wallet = available(payments::AccountKind::wallet);
  view.red_packet = available(payments::AccountKind::red_packet);
  view.channel = channel;
  return view;
}

}  // namespace

void PaymentApi::cashier(PaymentStep step, const Call& call) {
  const std::uint32_t channel = step.card.present ? primary_channel(step.card.bank) : 0;
  const engine::Submit submitted =
      engine_.submit_read([this, call, command = step.command, channel](const engine::State& state) {
        const CashierView view = cashier_view(state, command, channel);
        return call.post_later([call, view] {
          call.guarded([&] {
            if (!view.found) return call.fail({404, "order_not_found", "no order with this id for this buyer", {}});
            std::string body;
            write_cashier(body, view);
            call.answer(json(200, std::move(body)));
          });
        });
      });
  if (submitted != engine::Submit::accepted) call.fail(refused(submitted));
}

// One journal entry for every command step, then one read for the cashier steps, answered
// together in step order.
void PaymentApi::batch(const Request& request, const Call& call, const auth::Principal& principal) {
  if (!platform(principal)) return call.fail({403, "forbidden", "batches are the platform's", {}});
  std::vector<PaymentStep> steps;
  ApiError error;
  if (!parse_payment_batch(request.body, Caller{payments::PartyKind::platform, 0}, &steps, &error)) {
    return call.fail(error);
  }
  struct Pending {
    std::vector<PaymentStep> steps;
    std::vector<payments::Outcome> outcomes;
    std::vector<CashierView> views;
    std::atomic<int> parts{0};
  };
  auto pending = std::make_shared<Pending>();
  std::vector<payments::Command> commands;
  std::vector<payments::Command> cashiers;
  commands.reserve(steps.size());
  cashiers.reserve(steps.size());
  const std::uint64_t principal_id = principal_word(principal);
  for (PaymentStep& step : steps) {
    if (step.op == PaymentOp::cashier) {
      cashiers.push_back(step.command);
      continue;
    }
    step.command.principal = principal_id;
    step.command.id = command_id(principal_id, step.key);
    if (step.op == PaymentOp::create_red_packet) step.command.seed = step.command.id ^ step.command.request_hash;
    if (step.op == PaymentOp::withdraw) {
      return call.fail({400, "invalid_op", "withdrawals are not batched", {}});
    }
    commands.push_back(step.command);
  }
  pending->steps = std::move(steps);
  pending->parts = (commands.empty() ? 0 : 1) + (cashiers.empty() ? 0 : 1);
  const auto finish = [this, call, pending] {
    if (--pending->parts != 0) return;
    post_io_([call, pending] {
      call.guarded([&] {
        std::string body;
        body.reserve(pending->steps.size() * 64 + 16);
        body += "{\"results\":[";
        std::size_t command = 0, view = 0;
        for (std::size_t i = 0; i < pending->steps.size(); ++i) {
          if (i != 0) body += ',';
          if (pending->steps[i].op == PaymentOp::cashier) {
            write_cashier(body, pending->views[view++]);
          } else {
            write_outcome(body, pending->outcomes[command++]);
          }
        }
        body += "]}";
        call.answer(json(200, std::move(body)));
      });
    });
  };
  if (!commands.empty()) {
    const std::size_t admitted = commands.size();
    if (!admit(admitted, call)) return;
    const engine::Submit submitted = engine_.submit_payments(
        std::move(commands), [this, pending, finish, admitted](std::span<const payments::Outcome> outcomes) {
          in_flight_.fetch_sub(admitted);
          pending->outcomes.assign(outcomes.begin(), outcomes.end());
          finish();
        });
    if (submitted != engine::Submit::accepted) {
      in_flight_.fetch_sub(admitted);
      return call.fail(refused(submitted));
    }
  }
  if (!cashiers.empty()) {
    const engine::Submit submitted = engine_.submit_read(
        [this, pending, finish, cashiers = std::move(cashiers)](const engine::State& state) {
          pending->views.reserve(cashiers.size());
          for (const payments::Command& command : cashiers) pending->views.push_back(cashier_view(state, command, 0));
          return finish;
        });
    // The commands (if any) are in; their answer still comes, so only a lone read can fail here.
    if (submitted != engine::Submit::accepted) {
      pending->views.assign(pending->steps.size(), CashierView{});
      finish();
    }
  }
}

void PaymentApi::read(const Call& call, const auth::Principal& principal, std::string_view kind,
                      std::uint64_t id, std::string_view query) {
  std::uint64_t day = 0;
  if (kind == "settlements") {
    if (!query.starts_with("day=") || !parse_decimal(query.substr(4), &day)) {
      return call.fail({400, "invalid_parameter", "settlements take ?day=<business day number>", "day"});
    }
  }
  const auto own = [principal](auth::PrincipalKind who, std::uint64_t owner) {
    return principal.kind == auth::PrincipalKind::platform || (principal.kind == who && principal.id == owner);
  };
  const engine::Submit submitted = engine_.submit_read([this, call, kind, id, day, own](const engine::State& state) {
    std::string body;
    unsigned status = 200;
    const auto not_found = [&] {
      status = 404;
      write_error(body, {404, "not_found", fmt::format("no {} {} for this caller", kind, id), {}});
    };
    const auto balance = [&](payments::AccountKind account_kind) {
      const ledger::Account* account = state.ledger.find_account(payments::account_id(account_kind, id));
      return account == nullptr ? 0 : account->credits_posted - account->debits_posted;
    };
    const auto held = [&](payments::AccountKind account_kind) {
      const ledger::Account* account = state.ledger.find_account(payments::account_id(account_kind, id));
      return account == nullptr ? 0 : account->debits_pending;
    };
    if (kind == "users") {
      const payments::UserRecord* user = state.payments.find_user(id);
      if (user == nullptr || !own(auth::PrincipalKind::user, id)) {
        not_found();
      } else {
        fmt::format_to(std::back_inserter(body),
                       "{{\"id\":\"{}\",\"verified\":{},\"wallet\":\"{}\",\"red_packet\":\"{}\",\"held\":\"{}\"}}",
                       id, user->verified != 0, balance(payments::AccountKind::wallet),
                       balance(payments::AccountKind::red_packet), held(payments::AccountKind::wallet));
      }
    } else if (kind == "merchants") {
      const payments::MerchantRecord* merchant = state.payments.find_merchant(id);
      if (merchant == nullptr || !own(auth::PrincipalKind::merchant, id)) {
        not_found();
      } else {
        fmt::format_to(std::back_inserter(body),
                       "{{\"id\":\"{}\",\"balance\":\"{}\",\"fee_bps\":{},\"auto_confirm_s\":{}}}", id,
                       balance(payments::AccountKind::merchant), merchant->fee_bps, merchant->auto_confirm_s);
      }
    } else if (kind == "orders") {
      const payments::OrderRecord* order = state.payments.find_order(id);
      if (order == nullptr || !(own(auth::PrincipalKind::merchant, order->merchant) ||
                                (order->buyer != 0 && own(auth::PrincipalKind::user, order->buyer)))) {
        not_found();
      } else {
        write_order(body, *order);
      }
    } else if (kind == "withdrawals") {
      const payments::WithdrawalRecord* withdrawal = state.payments.find_withdrawal(id);
      if (withdrawal == nullptr || !own(auth::PrincipalKind::user, withdrawal->user)) {
        not_found();
      } else {
        write_withdrawal(body, *withdrawal);
      }
    } else if (kind == "red-packets") {
      const payments::RedPacketRecord* packet = state.payments.find_red_packet(id);
      if (packet == nullptr || !own(auth::PrincipalKind::user, packet->sender)) {
        not_found();
      } else {
        write_red_packet(body, *packet);
      }
    } else {
      const payments::SettlementRecord* settlement = state.payments.find_settlement(id, day);
      if (!own(auth::PrincipalKind::merchant, id) || state.payments.find_merchant(id) == nullptr) {
        not_found();
      } else {
        write_settlement(body, settlement != nullptr ? *settlement : payments::SettlementRecord{id, day, 0, 0, 0, 0});
      }
    }
    return post_later(post_io_, [call, status, body = std::move(body)]() mutable {
      call.guarded([&] { call.answer(json(status, std::move(body))); });
    });
  });
  if (submitted != engine::Submit::accepted) call.fail(refused(submitted));
}

std::string PaymentApi::render_metrics() const {
  if (payouts_ == nullptr) return {};
  return fmt::format(
      "# HELP capillary_payouts_unresolved Withdrawals held while the bank has not said whether it paid out.\n"
      "# TYPE capillary_payouts_unresolved gauge\n"
      "capillary_payouts_unresolved {}\n"
      "# HELP capillary_card_calls_pending Card charges, refunds and reversals sent again until the bank answers.\n"
      "# TYPE capillary_card_calls_pending gauge\n"
      "capillary_card_calls_pending {}\n",
      payouts_->unresolved(), card_retries_->pending());
}

std::uint64_t PaymentApi::business_now() const {
  return clock_ != nullptr ? clock_->now_ns() : SystemClock().now_ns();
}

// Business time, and on a test server moving it forward: {"advance_s": N}. Signatures keep the
// wall clock (authenticate.h): only what the platform's business rules see moves.
void PaymentApi::clock(const Request& request, const Call& call, const auth::Principal& principal) {
  if (request.method == "POST") {
    if (!platform(principal)) return call.fail({403, "forbidden", "business time is the platform's", {}});
    if (clock_ == nullptr) {
      return call.fail({403, "clock_fixed", "this server's business time is the system clock's", {}});
    }
    std::uint64_t advance_s = 0;
    ApiError error;
    if (!parse_clock_advance(request.body, &advance_s, &error)) return call.fail(error);
    clock_->advance(std::chrono::seconds(advance_s));
  }
  const std::uint64_t now = business_now();
  call.answer(json(200, fmt::format("{{\"now_ns\":\"{}\",\"business_day\":\"{}\",\"adjustable\":{}}}", now,
                                    format_date(payments::business_day(now)), clock_ != nullptr)));
}

void PaymentApi::lookup(const Request& request, const Call& call) {
  std::vector<std::uint64_t> ids;
  ApiError error;
  if (!parse_order_ids(request.body, &ids, &error)) return call.fail(error);
  const engine::Submit submitted =
      engine_.submit_read([this, call, ids = std::move(ids)](const engine::State& state) {
        std::string body;
        body.reserve(ids.size() * 420 + 16);
        body += "{\"orders\":[";
        for (std::size_t i = 0; i < ids.size(); ++i) {
          if (i != 0) body += ',';
          const payments::OrderRecord* order = state.payments.find_order(ids[i]);
          if (order == nullptr) {
            body += "null";
          } else {
            write_order(body, *order);
          }
        }
        body += "]}";
        return post_later(post_io_, [call, body = std::move(body)]() mutable {
          call.guarded([&] { call.answer(json(200, std::move(body))); });
        });
      });
  if (submitted != engine::Submit::accepted) call.fail(refused(submitted));
}

// The bank's statement for one channel against the ledger's card movements through that
// channel's clearing account, matched by the bank's reference and kind: money in (top-ups and card
// payments, debit_card), payouts (posted withdrawals, credit_card) and card refunds (refunds whose
// card part the bank credited, refund). Every line without its ledger twin, every ledger movement
// without its line, and every amount that differs is listed.
namespace {

// A charge the platform reversed (card_retries.h) left two lines at the bank and none in the
// ledger: the charge, and a refund of it under `reversal-<the charge's reference>`, for the same
// amount. Such pairs among the lines missing in the ledger are set to null and counted.
std::uint64_t pair_reversals(std::vector<const StatementLine*>* missing) {
  constexpr std::string_view reversal_prefix = "reversal-";
  absl::flat_hash_map<std::string_view, std::size_t> charges;
  for (std::size_t i = 0; i < missing->size(); ++i) {
    if ((*missing)[i]->kind == StatementKind::debit_card) charges.emplace((*missing)[i]->our_reference, i);
  }
  std::uint64_t pairs = 0;
  for (const StatementLine*& line : *missing) {
    if (line == nullptr || line->kind != StatementKind::refund || !line->our_reference.starts_with(reversal_prefix)) {
      continue;
    }
    const auto charge = charges.find(std::string_view(line->our_reference).substr(reversal_prefix.size()));
    if (charge == charges.end() || (*missing)[charge->second] == nullptr ||
        (*missing)[charge->second]->amount != line->amount) {
      continue;
    }
    (*missing)[charge->second] = nullptr;
    line = nullptr;
    ++pairs;
  }
  return pairs;
}

}  // namespace

void PaymentApi::reconcile(const Request& request, const Call& call) {
  auto lines = std::make_shared<std::vector<StatementLine>>();
  std::uint32_t channel = 0;
  ApiError error;
  if (!parse_reconciliation(request.body, &channel, lines.get(), &error)) return call.fail(error);
  const engine::Submit submitted = engine_.submit_read([this, call, channel, lines](const engine::State& state) {
    struct Movement {
      std::int64_t amount;
      StatementKind kind;
      bool matched;
    };
    const std::uint64_t clearing = payments::account_id(payments::AccountKind::bank_clearing, channel);
    constexpr auto refund_code = static_cast<std::uint16_t>(payments::TransferCode::order_refund);
    absl::flat_hash_map<std::uint64_t, Movement> ledger_side;
    for (const ledger::TransferRecord& record : state.ledger.transfers()) {
      const ledger::Transfer& t = record.transfer;
      if (t.debit_account_id == clearing && (t.flags & ledger::transfer_pending) == 0 && t.code != refund_code) {
        ledger_side[t.user_data] = {t.amount, StatementKind::debit_card, false};
      } else if (t.credit_account_id == clearing && (t.flags & ledger::transfer_post_pending) != 0) {
        ledger_side[t.user_data] = {t.amount, StatementKind::credit_card, false};
      } else if (t.credit_account_id == clearing && t.code == refund_code) {
        ledger_side[t.user_data] = {t.amount, StatementKind::refund, false};
      }
    }
    std::string body;
    std::uint64_t matched = 0, mismatched = 0;
    std::string list;
    const auto mismatch = [&](std::string_view kind, std::string_view bank_reference, std::string_view ours,
                              std::int64_t bank_amount, std::int64_t ledger_amount) {
      if (mismatched++ >= reconciliation_mismatches_max) return;
      if (!list.empty()) list += ',';
      fmt::format_to(std::back_inserter(list), "{{\"kind\":\"{}\",\"bank_reference\":", kind);
      write_string(list, bank_reference);
      list += ",\"our_reference\":";
      write_string(list, ours);
      fmt::format_to(std::back_inserter(list), ",\"bank_amount\":\"{}\",\"ledger_amount\":\"{}\"}}",
                     bank_amount, ledger_amount);
    };
    std::vector<const StatementLine*> missing;
    for (const StatementLine& line : *lines) {
      const auto found = ledger_side.find(bank_reference_hash(line.bank_reference));
      if (found == ledger_side.end() || found->second.kind != line.kind) {
        missing.push_back(&line);
      } else if (found->second.amount != line.amount) {
        found->second.matched = true;
        mismatch("amount_differs", line.bank_reference, line.our_reference, line.amount, found->second.amount);
      } else {
        found->second.matched = true;
        ++matched;
      }
    }
    const std::uint64_t reversed = pair_reversals(&missing);
    for (const StatementLine* line : missing) {
      if (line != nullptr) mismatch("missing_in_ledger", line->bank_reference, line->our_reference, line->amount, 0);
    }
    for (const auto& [reference, movement] : ledger_side) {
      if (!movement.matched) {
        mismatch("missing_at_bank", fmt::format("#{:016x}", reference), "", 0, movement.amount);
      }
    }
    fmt::format_to(std::back_inserter(body),
                   "{{\"channel\":{},\"statement_lines\":{},\"ledger_movements\":{},\"matched\":{},"
                   "\"reversed\":{},\"mismatches\":{},\"listed\":[{}]}}",
                   channel, lines->size(), ledger_side.size(), matched, reversed, mismatched, list);
    return post_later(post_io_, [call, body = std::move(body)]() mutable {
      call.guarded([&] { call.answer(json(200, std::move(body))); });
    });
  });
  if (submitted != engine::Submit::accepted) call.fail(refused(submitted));
}

}  // namespace capillary::server
