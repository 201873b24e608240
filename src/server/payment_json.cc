#include "server/payment_json.h"

#include <fmt/compile.h>
#include <fmt/format.h>
#include <simdjson.h>
#include <xxhash.h>

#include <array>
#include <iterator>
#include <optional>

#include "channels/connector.h"
#include "channels/wire.h"
#include "core/assert.h"
#include "payments/limits.h"
#include "server/json_fields.h"
#include "server/product_json.h"

namespace capillary::server {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr std::size_t url_bytes_max = 512;

// The bank's answer as the platform's gateway tier sends it (`bank`), for a card it charged or
// credited itself: top-ups, card funding, and the card part of a refund.
bool parse_bank_answer(Fields& fields, PaymentStep* step, ApiError* error) {
  std::optional<Fields> bank;
  if (!fields.nested("bank", &bank, error)) return false;
  if (bank) {
    if (step->card.present) {
      *error = field_error("card_and_bank", "send either a card to charge or the bank's answer", "bank");
      return false;
    }
    std::uint64_t channel = 0;
    std::string reference, outcome;
    if (!bank->u64("channel", &channel, true, error) ||
        !bank->text("reference", &reference, true, error) ||
        !bank->text("outcome", &outcome, true, error) || !bank->finish(error)) {
      return false;
    }
    if (channel == 0 || channel > UINT32_MAX) {
      *error = field_error("invalid_channel", "bank.channel must be 1 to 2^32-1", "bank.channel");
      return false;
    }
    payments::BankAnswer& answer = step->command.bank;
    answer.channel = static_cast<std::uint32_t>(channel);
    answer.reference = hash_text(reference);
    if (outcome == "approved") {
      answer.outcome = payments::BankOutcome::approved;
    } else if (outcome == "declined") {
      answer.outcome = payments::BankOutcome::declined;
    } else if (outcome == "failed") {
      answer.outcome = payments::BankOutcome::failed;
    } else {
      *error = field_error("invalid_outcome", "bank.outcome is approved, declined or failed", "bank.outcome");
      return false;
    }
    step->bank_given = true;
  }
  return true;
}

bool parse_card(Fields& fields, PaymentStep* step, ApiError* error) {
  std::optional<Fields> card;
  if (!fields.nested("card", &card, error)) return false;
  if (card) {
    step->card.present = true;
    if (!card->text("token", &step->card.token, true, error) ||
        !card->text("bank", &step->card.bank, true, error) || !card->finish(error)) {
      return false;
    }
  }
  return parse_bank_answer(fields, step, error);
}

// A payment from fund shares names the fund; its id travels in the command's `b`.
bool parse_funding(Fields& fields, payments::Funding* funding, std::uint64_t* fund_id, ApiError* error) {
  std::optional<Fields> nested;
  if (!fields.nested("funding", &nested, error)) return false;
  if (!nested) {
    *error = field_error("missing_field", fmt::format("{} is required", fields.path("funding")),
                         fields.path("funding"));
    return false;
  }
  return nested->amount("wallet", &funding->wallet, false, error) &&
         nested->amount("red_packet", &funding->red_packet, false, error) &&
         nested->amount("card", &funding->card, false, error) &&
         nested->amount("fund", &funding->fund, false, error) &&
         nested->u64("fund_id", fund_id, funding->fund > 0, error) &&
         nested->amount("credit", &funding->credit, false, error) &&
         nested->u64("campaign", &funding->campaign, false, error) && nested->finish(error);
}

// What a batch step asks for, as parsed: everything a step says lands in its command (texts such
// as references as their hashes) or, for a merchant, its callback URL. Two steps that mean the
// same thing hash the same however their JSON is spelled; a different step under a key already
// used is refused as a reused key.
std::uint64_t batch_step_hash(const PaymentStep& step) {
  CAP_ASSERT(step.command.id == 0 && step.command.principal == 0 && step.command.request_hash == 0);
  const std::uint64_t url = XXH3_64bits(step.callback_url.data(), step.callback_url.size());
  const std::uint64_t hash = XXH3_64bits_withSeed(&step.command, sizeof(step.command), url);
  return hash == 0 ? 1 : hash;
}

// Fills `step` from `fields` for its op. `path_id` is the route's id (0 in a batch, where the
// step names it).
bool parse_step(Fields& fields, std::uint64_t path_id, const Caller& caller, PaymentStep* step,
                ApiError* error) {
  using payments::CommandKind;
  using payments::PartyKind;
  payments::Command& c = step->command;
  const auto id_of = [&](std::string_view name, std::uint64_t* out) {
    if (path_id != 0) {
      *out = path_id;
      return true;
    }
    return fields.u64(name, out, true, error);
  };
  switch (step->op) {
    case PaymentOp::open_user: {
      bool verified = false;
      c.kind = CommandKind::open_user;
      if (!fields.u64("id", &c.party, true, error) || !fields.boolean("verified", &verified, error)) {
        return false;
      }
      c.a = verified ? 1 : 0;
      break;
    }
    case PaymentOp::open_merchant:
      c.kind = CommandKind::open_merchant;
      c.a = payments::fee_bps_default;
      if (!fields.u64("id", &c.party, true, error) || !fields.u64("fee_bps", &c.a, false, error) ||
          !fields.u64("auto_confirm_s", &c.b, false, error) ||
          !fields.text("callback_url", &step->callback_url, false, error, url_bytes_max)) {
        return false;
      }
      if (c.b > UINT32_MAX) {
        *error = field_error("invalid_period", "auto_confirm_s must fit 32 bits", fields.path("auto_confirm_s"));
        return false;
      }
      break;
    case PaymentOp::top_up:
    case PaymentOp::withdraw:
      c.kind = step->op == PaymentOp::top_up ? CommandKind::top_up : CommandKind::withdraw;
      if (!id_of("user", &c.party) || !fields.amount("amount", &c.amount, true, error) ||
          !parse_card(fields, step, error)) {
        return false;
      }
      break;
    case PaymentOp::transfer:
      c.kind = CommandKind::transfer;
      if (!id_of("user", &c.party) || !fields.u64("to", &c.counterparty, true, error) ||
          !fields.amount("amount", &c.amount, true, error)) {
        return false;
      }
      break;
    case PaymentOp::pay_bill: {
      std::string reference;
      c.kind = CommandKind::pay_bill;
      if (!id_of("user", &c.party) || !fields.u64("biller", &c.counterparty, true, error) ||
          !fields.amount("amount", &c.amount, true, error) ||
          !fields.text("reference", &reference, true, error)) {
        return false;
      }
      c.reference = hash_text(reference);
      break;
    }
    case PaymentOp::create_order: {
      std::string order_no;
      c.kind = CommandKind::create_order;
      if (!party(fields, "merchant", PartyKind::merchant, caller, &c.party, error) ||
          !fields.amount("amount", &c.amount, true, error) ||
          !fields.text("order_no", &order_no, false, error) ||
          !fields.u64("buyer", &c.counterparty, false, error)) {
        return false;
      }
      if (!order_no.empty()) c.reference = hash_text(order_no);
      break;
    }
    case PaymentOp::cashier:
      if (!id_of("order", &c.target) || !party(fields, "buyer", PartyKind::user, caller, &c.party, error)) {
        return false;
      }
      {
        std::optional<Fields> card;
        if (!fields.nested("card", &card, error)) return false;
        if (card) {
          step->card.present = true;
          if (!card->text("token", &step->card.token, false, error) ||
              !card->text("bank", &step->card.bank, true, error) || !card->finish(error)) {
            return false;
          }
        }
      }
      break;
    case PaymentOp::pay:
      c.kind = CommandKind::pay_order;
      if (!id_of("order", &c.target) || !party(fields, "buyer", PartyKind::user, caller, &c.party, error) ||
          !parse_funding(fields, &c.funding, &c.b, error) || !parse_card(fields, step, error)) {
        return false;
      }
      break;
    case PaymentOp::confirm:
      c.kind = CommandKind::confirm_order;
      if (!id_of("order", &c.target) || !party(fields, "buyer", PartyKind::user, caller, &c.party, error)) {
        return false;
      }
      break;
    case PaymentOp::refund:
    case PaymentOp::close:
      c.kind = step->op == PaymentOp::refund ? CommandKind::refund_order : CommandKind::close_order;
      if (!id_of("order", &c.target) ||
          !party(fields, "merchant", PartyKind::merchant, caller, &c.party, error) ||
          (step->op == PaymentOp::refund &&
           (!fields.amount("amount", &c.amount, true, error) || !parse_bank_answer(fields, step, error)))) {
        return false;
      }
      break;
    case PaymentOp::qr_pay:
      c.kind = CommandKind::qr_pay;
      if (!party(fields, "buyer", PartyKind::user, caller, &c.party, error) ||
          !fields.u64("merchant", &c.counterparty, true, error) ||
          !fields.amount("amount", &c.amount, true, error) || !parse_funding(fields, &c.funding, &c.b, error) ||
          !parse_card(fields, step, error)) {
        return false;
      }
      break;
    case PaymentOp::create_red_packet: {
      std::string split;
      c.kind = payments::CommandKind::create_red_packet;
      if (!party(fields, "sender", PartyKind::user, caller, &c.party, error) ||
          !fields.amount("amount", &c.amount, true, error) || !fields.u64("count", &c.b, true, error) ||
          !fields.text("split", &split, true, error)) {
        return false;
      }
      if (split != "fixed" && split != "random") {
        *error = field_error("invalid_split", "split is fixed or random", fields.path("split"));
        return false;
      }
      c.a = split == "fixed" ? payments::split_fixed : payments::split_random;
      break;
    }
    case PaymentOp::claim_red_packet:
      c.kind = CommandKind::claim_red_packet;
      if (!id_of("red_packet", &c.target) || !party(fields, "user", PartyKind::user, caller, &c.party, error)) {
        return false;
      }
      break;
    case PaymentOp::create_campaign: {
      std::uint64_t valid_from = 0, valid_to = 0, per_user_limit = 0;
      c.kind = CommandKind::create_campaign;
      if (caller.kind == PartyKind::merchant) c.party = caller.id;
      if (!fields.u64("merchant", &c.party, false, error) ||
          !fields.amount("budget", &c.amount, true, error) ||
          !fields.amount("value", &c.terms.value, true, error) ||
          !fields.amount("min_spend", &c.terms.min_spend, false, error) ||
          !fields.u64("valid_from", &valid_from, true, error) ||
          !fields.u64("valid_to", &valid_to, true, error) ||
          !fields.u64("per_user_limit", &per_user_limit, true, error)) {
        return false;
      }
      constexpr std::uint64_t seconds_max = UINT64_MAX / payments::ns_per_s;
      if (valid_from > seconds_max || valid_to > seconds_max || per_user_limit > UINT32_MAX) {
        *error = field_error("invalid_terms", "valid_from, valid_to or per_user_limit is out of range", "");
        return false;
      }
      c.terms.valid_from_ns = valid_from * payments::ns_per_s;
      c.terms.valid_to_ns = valid_to * payments::ns_per_s;
      c.terms.per_user_limit = static_cast<std::uint32_t>(per_user_limit);
      break;
    }
    default:
      return parse_product_step(fields, path_id, caller, step, error);
  }
  return true;
}

constexpr std::array<std::pair<std::string_view, PaymentOp>, 15> batch_ops{{
    {"create_order", PaymentOp::create_order},
    {"cashier", PaymentOp::cashier},
    {"pay", PaymentOp::pay},
    {"confirm", PaymentOp::confirm},
    {"refund", PaymentOp::refund},
    {"close", PaymentOp::close},
    {"open_user", PaymentOp::open_user},
    {"open_merchant", PaymentOp::open_merchant},
    {"top_up", PaymentOp::top_up},
    {"transfer", PaymentOp::transfer},
    {"qr_pay", PaymentOp::qr_pay},
    {"create_red_packet", PaymentOp::create_red_packet},
    {"claim_red_packet", PaymentOp::claim_red_packet},
    {"fund_subscribe", PaymentOp::fund_subscribe},
    {"place_standing_order", PaymentOp::place_standing_order},
}};

bool parse_root(std::string& body, simdjson::dom::parser& parser, element* root, ApiError* error) {
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  auto parsed = parser.parse(body.data(), body.size(), false);
  if (parsed.error() != simdjson::SUCCESS) {
    *error = field_error("malformed_json", simdjson::error_message(parsed.error()), "");
    return false;
  }
  *root = parsed.value_unsafe();
  if (root->type() != element_type::OBJECT) {
    *error = field_error("malformed_json", "the body must be a JSON object", "");
    return false;
  }
  return true;
}

}  // namespace

bool parse_payment_request(std::string& body, PaymentOp op, std::uint64_t path_id, const Caller& caller,
                           PaymentStep* step, ApiError* error) {
  thread_local simdjson::dom::parser parser;
  element root;
  if (!parse_root(body, parser, &root, error)) return false;
  Fields fields(root.get_object().value_unsafe());
  step->op = op;
  if (!parse_step(fields, path_id, caller, step, error) || !fields.finish(error)) return false;
  step->canonical = simdjson::minify(root);
  return true;
}

bool parse_payment_batch(std::string& body, const Caller& caller, std::vector<PaymentStep>* steps,
                         ApiError* error) {
  thread_local simdjson::dom::parser parser;
  element root;
  if (!parse_root(body, parser, &root, error)) return false;
  Fields top(root.get_object().value_unsafe());
  auto list = root.get_object().value_unsafe()["steps"];
  if (list.error() != simdjson::SUCCESS || list.value_unsafe().type() != element_type::ARRAY) {
    *error = field_error("missing_field", "steps must be an array of steps", "steps");
    return false;
  }
  simdjson::dom::array array = list.value_unsafe().get_array().value_unsafe();
  if (array.size() == 0 || array.size() > payment_batch_steps_max) {
    *error = field_error("batch_size", fmt::format("a batch holds 1 to {} steps", payment_batch_steps_max),
                         "steps");
    return false;
  }
  std::uint64_t unused = 0;
  ApiError ignored;
  (void)top.u64("steps", &unused, false, &ignored);  // marks it known
  if (!top.finish(error)) return false;
  steps->clear();
  steps->reserve(array.size());
  std::size_t index = 0;
  for (element item : array) {
    if (item.type() != element_type::OBJECT) {
      const std::string path = fmt::format("steps[{}]", index);
      *error = field_error("invalid_object", path + " must be an object", path);
      return false;
    }
    Fields fields(item.get_object().value_unsafe(), "steps", index++);
    PaymentStep step;
    std::string_view op;
    if (!fields.text_view("op", &op, true, error)) return false;
    bool known = false;
    for (const auto& [op_name, op_value] : batch_ops) {
      if (op_name == op) {
        step.op = op_value;
        known = true;
      }
    }
    if (!known) {
      *error = field_error("invalid_op", fmt::format("{} {} is not a batch operation", fields.path("op"), op),
                           fields.path("op"));
      return false;
    }
    if (step.op != PaymentOp::cashier && !fields.text("key", &step.key, true, error)) return false;
    if (!parse_step(fields, 0, caller, &step, error) || !fields.finish(error)) return false;
    if (step.card.present && step.op != PaymentOp::cashier) {
      *error = field_error("card_in_batch",
                           "a batch carries the bank's answer (bank), not a card to charge",
                           fields.path("card"));
      return false;
    }
    step.command.request_hash = batch_step_hash(step);
    steps->push_back(std::move(step));
  }
  return true;
}

std::uint64_t bank_reference_hash(std::string_view reference) {
  const std::uint64_t hash = XXH3_64bits(reference.data(), reference.size());
  return hash == 0 ? 1 : hash;
}

namespace {

bool statement_kind(std::string_view text, StatementKind* kind) {
  if (text == channels::name(channels::BankApi::debit_card)) {
    *kind = StatementKind::debit_card;
  } else if (text == channels::name(channels::BankApi::credit_card)) {
    *kind = StatementKind::credit_card;
  } else if (text == channels::wire::refund_kind) {
    *kind = StatementKind::refund;
  } else {
    return false;
  }
  return true;
}

}  // namespace

bool parse_reconciliation(std::string& body, std::uint32_t* channel, std::vector<StatementLine>* lines,
                          ApiError* error) {
  thread_local simdjson::dom::parser parser;
  element root;
  if (!parse_root(body, parser, &root, error)) return false;
  Fields fields(root.get_object().value_unsafe());
  std::uint64_t channel_id = 0;
  if (!fields.u64("channel", &channel_id, true, error)) return false;
  auto statement = root.get_object().value_unsafe()["statement"];
  if (statement.error() != simdjson::SUCCESS || statement.value_unsafe().type() != element_type::STRING) {
    *error = field_error("missing_field", "statement must be the channel's statement file as a string", "statement");
    return false;
  }
  std::uint64_t ignored = 0;
  ApiError unused;
  (void)fields.u64("statement", &ignored, false, &unused);  // marks it known
  if (!fields.finish(error)) return false;
  if (channel_id == 0 || channel_id > UINT32_MAX) {
    *error = field_error("invalid_channel", "channel must be 1 to 2^32-1", "channel");
    return false;
  }
  *channel = static_cast<std::uint32_t>(channel_id);
  std::string_view text = statement.value_unsafe().get_string().value_unsafe();
  lines->clear();
  std::size_t number = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++number;
    if (line.empty() || (number == 1 && line.starts_with("date,"))) continue;
    std::array<std::string_view, 5> cells{};
    std::string_view rest = line;
    std::size_t count = 0;
    while (count < cells.size()) {
      const std::size_t comma = rest.find(',');
      cells[count++] = rest.substr(0, comma);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    std::uint64_t amount = 0;
    StatementKind kind = StatementKind::debit_card;
    if (count != 5 || !parse_decimal(cells[3], &amount) || amount > static_cast<std::uint64_t>(payments::amount_max) ||
        !statement_kind(cells[4], &kind)) {
      *error = field_error("malformed_statement",
                           fmt::format("statement line {} is not date,bank_reference,our_reference,amount_fen,kind",
                                       number),
                           "statement");
      return false;
    }
    lines->push_back({std::string(cells[0]), std::string(cells[1]), std::string(cells[2]),
                      static_cast<std::int64_t>(amount), kind});
  }
  return true;
}

void write_outcome(std::string& out, const payments::Outcome& outcome) {
  fmt::format_to(std::back_inserter(out), FMT_COMPILE("{{\"result\":\"{}\",\"value\":\"{}\""),
                 payments::name(outcome.result), outcome.value);
  if (outcome.result != payments::Result::ok) {
    out += ",\"description\":";
    write_string(out, payments::description(outcome.result));
  }
  if (outcome.card_refund != payments::CardRefund::none) {
    out += outcome.card_refund == payments::CardRefund::to_card ? ",\"card_refund\":\"to_card\""
                                                                  : ",\"card_refund\":\"to_wallet\"";
  }
  if (outcome.replayed != 0) out += ",\"replayed\":true";
  out += '}';
}

void write_cashier(std::string& out, const CashierView& view) {
  if (!view.found) {
    out += "{\"result\":\"order_not_found\"}";
    return;
  }
  fmt::format_to(std::back_inserter(out),
                 FMT_COMPILE("{{\"order\":\"{}\",\"state\":\"{}\",\"amount\":\"{}\",\"wallet\":\"{}\","
                             "\"red_packet\":\"{}\""),
                 view.order, name(view.state), view.amount, view.wallet, view.red_packet);
  if (view.channel != 0) fmt::format_to(std::back_inserter(out), FMT_COMPILE(",\"channel\":{}"), view.channel);
  out += '}';
}

std::string_view name(payments::OrderState state) {
  switch (state) {
    case payments::OrderState::awaiting_payment: return "awaiting_payment";
    case payments::OrderState::paid: return "paid";
    case payments::OrderState::released: return "released";
    case payments::OrderState::refunded: return "refunded";
    case payments::OrderState::closed: return "closed";
  }
  return "unknown";
}

void write_order(std::string& out, const payments::OrderRecord& o) {
  fmt::format_to(std::back_inserter(out),
                 "{{\"id\":\"{}\",\"merchant\":\"{}\",\"buyer\":\"{}\",\"amount\":\"{}\",\"state\":\"{}\","
                 "\"held\":\"{}\",\"released\":\"{}\",\"fee\":\"{}\",\"refunded\":\"{}\","
                 "\"created_at\":\"{}\",\"paid_at\":\"{}\",\"release_at\":\"{}\","
                 "\"funding\":{{\"wallet\":\"{}\",\"red_packet\":\"{}\",\"card\":\"{}\",\"coupon\":\"{}\","
                 "\"fund\":\"{}\"}},\"campaign\":\"{}\",\"fund_id\":\"{}\",\"channel\":{},\"events\":{}",
                 o.id, o.merchant, o.buyer, o.amount, name(o.state), o.held, o.released, o.fee, o.refunded,
                 o.created_at, o.paid_at, o.release_at, o.from_wallet, o.from_red_packet, o.from_card,
                 o.from_coupon, o.from_fund, o.campaign, o.fund, o.channel, o.events);
  // A card refund the bank did not take went to the buyer's wallet: the merchant sees it here.
  if ((o.flags & payments::order_card_refund_to_wallet) != 0) out += ",\"card_refund\":\"to_wallet\"";
  out += '}';
}

void write_red_packet(std::string& out, const payments::RedPacketRecord& p) {
  fmt::format_to(std::back_inserter(out),
                 "{{\"id\":\"{}\",\"sender\":\"{}\",\"total\":\"{}\",\"remaining\":\"{}\",\"count\":{},"
                 "\"claimed\":{},\"split\":\"{}\",\"created_at\":\"{}\",\"expires_at\":\"{}\",\"expired\":{}}}",
                 p.id, p.sender, p.total, p.remaining, p.count, p.claimed,
                 p.split == payments::split_fixed ? "fixed" : "random", p.created_at, p.expires_at,
                 p.expired != 0 ? "true" : "false");
}

void write_withdrawal(std::string& out, const payments::WithdrawalRecord& w) {
  std::string_view state = "returned";
  if (w.state == payments::WithdrawalState::held) state = "held";
  if (w.state == payments::WithdrawalState::paid_out) state = "paid_out";
  fmt::format_to(std::back_inserter(out),
                 "{{\"id\":\"{}\",\"user\":\"{}\",\"amount\":\"{}\",\"channel\":{},\"state\":\"{}\"}}",
                 w.id, w.user, w.amount, w.channel, state);
}

void write_settlement(std::string& out, const payments::SettlementRecord& s) {
  fmt::format_to(std::back_inserter(out),
                 "{{\"merchant\":\"{}\",\"day\":{},\"orders\":\"{}\",\"gross\":\"{}\",\"fees\":\"{}\","
                 "\"refunds\":\"{}\",\"net\":\"{}\"}}",
                 s.merchant, s.day, s.orders, s.gross, s.fees, s.refunds, s.gross - s.fees - s.refunds);
}

}  // namespace capillary::server
