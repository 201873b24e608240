#include "cli/load_plan.h"

#include <fmt/compile.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>

#include "core/assert.h"

namespace capillary::cli::load {
namespace {

constexpr std::string_view result_key = R"("result":")";
constexpr std::string_view value_key = R"("value":)";

// The decimal after `key` in `body` (a JSON number or a decimal string), searched in
// [from, until); false when absent or not a decimal.
template <typename Integer>
bool find_decimal(std::string_view body, std::string_view key, std::size_t from, std::size_t until,
                  Integer* value) {
  const std::size_t at = body.find(key, from);
  if (at == std::string_view::npos || at >= until) return false;
  std::size_t start = at + key.size();
  if (start < body.size() && body[start] == '"') ++start;
  const auto [end, error] = std::from_chars(body.data() + start, body.data() + body.size(), *value);
  return error == std::errc{} && end != body.data() + start;
}

void append_funding(const Funding& funding, std::string* out) {
  auto inserter = std::back_inserter(*out);
  fmt::format_to(inserter, FMT_COMPILE(R"("funding":{{"wallet":{})"), funding.wallet);
  if (funding.red_packet != 0) fmt::format_to(inserter, FMT_COMPILE(R"(,"red_packet":{})"), funding.red_packet);
  if (funding.card != 0) fmt::format_to(inserter, FMT_COMPILE(R"(,"card":{})"), funding.card);
  if (funding.campaign != 0) fmt::format_to(inserter, FMT_COMPILE(R"(,"campaign":{})"), funding.campaign);
  out->push_back('}');
}

// The answer of the card's bank, supplied by the platform as a gateway tier does once it charged
// the card: the server then journals it without asking a bank (docs/payments-api.md, batch).
void append_bank_answer(std::uint64_t bank_reference, std::string* out) {
  fmt::format_to(std::back_inserter(*out),
                 FMT_COMPILE(R"("bank":{{"channel":{},"reference":"{}","outcome":"approved"}})"), card_channel,
                 bank_reference);
}

// The fields of `step` without braces: shared by a request body and a batch step.
void append_fields(const Step& step, std::string* out) {
  auto inserter = std::back_inserter(*out);
  switch (step.op) {
    case StepOp::create_order:
      fmt::format_to(inserter, FMT_COMPILE(R"("merchant":{},"amount":{},"buyer":{})"), step.merchant,
                     step.amount, step.user);
      return;
    case StepOp::cashier:
      fmt::format_to(inserter, FMT_COMPILE(R"("buyer":{})"), step.user);
      return;
    case StepOp::pay:
      fmt::format_to(inserter, FMT_COMPILE(R"("buyer":{},)"), step.user);
      append_funding(step.funding, out);
      if (step.funding.card != 0) {
        out->push_back(',');
        append_bank_answer(step.bank_reference, out);
      }
      return;
    case StepOp::top_up:
      fmt::format_to(inserter, FMT_COMPILE(R"("amount":{},)"), step.amount);
      append_bank_answer(step.bank_reference, out);
      return;
    case StepOp::claim_red_packet:
      fmt::format_to(inserter, FMT_COMPILE(R"("user":{})"), step.user);
      return;
    case StepOp::open_user:
      fmt::format_to(inserter, FMT_COMPILE(R"("id":{},"verified":true)"), step.user);
      return;
    case StepOp::open_merchant:
      fmt::format_to(inserter, FMT_COMPILE(R"("id":{},"fee_bps":{})"), step.merchant, merchant_fee_bps);
      return;
  }
  CAP_ASSERT(false);
}

}  // namespace

FundingKind draw_funding_kind(std::mt19937_64& random) {
  const std::uint32_t percent = std::uniform_int_distribution<std::uint32_t>(0, 99)(random);
  if (percent < percent_wallet) return FundingKind::wallet;
  if (percent < percent_wallet + percent_coupon) return FundingKind::coupon;
  if (percent < percent_wallet + percent_coupon + percent_red_packet) return FundingKind::red_packet;
  return FundingKind::card;
}

std::int64_t draw_order_amount(std::mt19937_64& random) {
  return std::uniform_int_distribution<std::int64_t>(order_amount_min, order_amount_max)(random);
}

Funding split_funding(FundingKind kind, std::int64_t amount, std::int64_t red_packet_balance,
                      std::uint64_t campaign) {
  CAP_ASSERT(amount >= order_amount_min && red_packet_balance >= 0);
  Funding funding;
  funding.kind = kind;
  switch (kind) {
    case FundingKind::wallet:
      funding.wallet = amount;
      break;
    case FundingKind::coupon:
      CAP_ASSERT(campaign != 0);
      funding.campaign = campaign;
      funding.wallet = amount - coupon_value;
      break;
    case FundingKind::red_packet:
      funding.red_packet = std::min(red_packet_balance,
                                    std::max<std::int64_t>(1, amount / red_packet_share_divisor));
      funding.wallet = amount - funding.red_packet;
      if (funding.red_packet == 0) funding.kind = FundingKind::wallet;
      break;
    case FundingKind::card:
      funding.card = amount;
      break;
  }
  CAP_ASSERT(funding.wallet + funding.red_packet + funding.card +
                 (funding.campaign != 0 ? coupon_value : 0) ==
             amount);
  return funding;
}

std::uint64_t due_by(double per_s, std::chrono::nanoseconds elapsed) {
  if (elapsed.count() <= 0 || per_s <= 0) return 0;
  return static_cast<std::uint64_t>(std::floor(per_s * std::chrono::duration<double>(elapsed).count()));
}

std::string_view op_name(StepOp op) {
  switch (op) {
    case StepOp::create_order: return "create_order";
    case StepOp::cashier: return "cashier";
    case StepOp::pay: return "pay";
    case StepOp::top_up: return "top_up";
    case StepOp::claim_red_packet: return "claim_red_packet";
    case StepOp::open_user: return "open_user";
    case StepOp::open_merchant: return "open_merchant";
  }
  CAP_ASSERT(false);
}

std::string step_path(const Step& step) {
  switch (step.op) {
    case StepOp::create_order: return "/v1/orders";
    case StepOp::cashier: return fmt::format("/v1/orders/{}/cashier", step.order);
    case StepOp::pay: return fmt::format("/v1/orders/{}/pay", step.order);
    case StepOp::top_up: return fmt::format("/v1/users/{}/top-ups", step.user);
    case StepOp::claim_red_packet: return fmt::format("/v1/red-packets/{}/claim", step.target);
    case StepOp::open_user: return "/v1/users";
    case StepOp::open_merchant: return "/v1/merchants";
  }
  CAP_ASSERT(false);
}

void append_step_body(const Step& step, std::string* out) {
  out->push_back('{');
  append_fields(step, out);
  out->push_back('}');
}

void append_batch_step(const Step& step, std::string_view key, std::string* out) {
  auto inserter = std::back_inserter(*out);
  // Cashier changes nothing, so it takes no idempotency key.
  if (step.op == StepOp::cashier) {
    fmt::format_to(inserter, FMT_COMPILE(R"({{"op":"cashier",)"));
  } else {
    fmt::format_to(inserter, FMT_COMPILE(R"({{"op":"{}","key":"{}",)"), op_name(step.op), key);
  }
  switch (step.op) {
    case StepOp::cashier:
    case StepOp::pay:
      fmt::format_to(inserter, FMT_COMPILE(R"("order":{},)"), step.order);
      break;
    case StepOp::top_up:
      fmt::format_to(inserter, FMT_COMPILE(R"("user":{},)"), step.user);
      break;
    case StepOp::claim_red_packet:
      fmt::format_to(inserter, FMT_COMPILE(R"("red_packet":{},)"), step.target);
      break;
    case StepOp::create_order:
    case StepOp::open_user:
    case StepOp::open_merchant:
      break;
  }
  append_fields(step, out);
  out->push_back('}');
}

bool split_array(std::string_view body, std::string_view key,
                 std::vector<std::string_view>* elements) {
  elements->clear();
  const std::string needle = fmt::format(R"("{}":[)", key);
  const std::size_t at = body.find(needle);
  if (at == std::string_view::npos) return false;
  std::size_t depth = 0, start = at + needle.size();
  bool in_string = false;
  for (std::size_t i = start; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    } else if ((c == ',' || c == ']') && depth == 0) {
      if (i > start) elements->push_back(body.substr(start, i - start));
      if (c == ']') return true;
      start = i + 1;
    }
  }
  return false;  // the array never closed
}

bool parse_answer(std::string_view element, StepAnswer* answer) {
  *answer = StepAnswer{};
  const std::size_t at = element.find(result_key);
  if (at == std::string_view::npos) {
    // A cashier's view of the order: {"order":"7","state":...}.
    if (!element.starts_with(R"({"order":)")) return false;
    answer->result = "ok";
    find_decimal(element, R"("order":)", 0, element.size(), &answer->value);
    return true;
  }
  const std::size_t code_start = at + result_key.size();
  const std::size_t code_end = element.find('"', code_start);
  if (code_end == std::string_view::npos) return false;
  answer->result = element.substr(code_start, code_end - code_start);
  if (!find_decimal(element, value_key, code_end, element.size(), &answer->value)) answer->value = 0;
  return true;
}

bool parse_answers(std::string_view body, std::vector<StepAnswer>* answers) {
  answers->clear();
  std::vector<std::string_view> elements;
  if (!split_array(body, "results", &elements)) elements.assign(1, body);
  for (std::string_view element : elements) {
    StepAnswer answer;
    if (!parse_answer(element, &answer)) return false;
    answers->push_back(answer);
  }
  return !answers->empty();
}

bool parse_order(std::string_view body, OrderView* order) {
  const std::size_t state_key_at = body.find(R"("state":")");
  if (state_key_at == std::string_view::npos) return false;
  const std::size_t state_start = state_key_at + std::string_view(R"("state":")").size();
  const std::size_t state_end = body.find('"', state_start);
  if (state_end == std::string_view::npos) return false;
  order->state = body.substr(state_start, state_end - state_start);
  return find_decimal(body, R"("id":)", 0, body.size(), &order->id) &&
         find_decimal(body, R"("amount":)", 0, body.size(), &order->amount) &&
         find_decimal(body, R"("held":)", 0, body.size(), &order->held) &&
         find_decimal(body, R"("released":)", 0, body.size(), &order->released);
}

bool payment_reconciles(const OrderView& order, std::int64_t amount) {
  if (order.amount != amount) return false;
  if (order.state == "paid") return order.held == amount;
  if (order.state == "released") return order.released == amount;
  return false;
}

}  // namespace capillary::cli::load
