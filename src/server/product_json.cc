#include "server/product_json.h"

#include <fmt/format.h>

#include <chrono>

#include "payments/command.h"

namespace capillary::server {
namespace {

using payments::CommandKind;
using payments::PartyKind;

// Income per 10,000 shares is published with 4 decimals of CNY; rates with 6 (0.0435 = 4.35%).
constexpr int income_decimals = 4;
constexpr int rate_decimals = 6;
// Past these it is a typo, not a figure: 100 CNY per 10,000 shares is 1% in a day, and 1000% a year
// is no fixed-term product's rate.
constexpr std::uint64_t income_e4_max = 1'000'000;
constexpr std::uint64_t rate_ppm_max = 10'000'000;

bool institution_kind(std::string_view text, payments::InstitutionKind* out) {
  using payments::InstitutionKind;
  if (text == "bank") *out = InstitutionKind::bank;
  else if (text == "insurer") *out = InstitutionKind::insurer;
  else if (text == "fund_company") *out = InstitutionKind::fund_company;
  else if (text == "other") *out = InstitutionKind::other;
  else return false;
  return true;
}

bool fixed_point_field(Fields& fields, std::string_view name, int decimals, std::uint64_t max,
                       std::uint64_t* out, ApiError* error) {
  std::string text;
  if (!fields.text(name, &text, true, error)) return false;
  if (!parse_fixed_point(text, decimals, max, out)) {
    *error = field_error("invalid_decimal",
                         fmt::format("{} must be a decimal string with at most {} decimals, up to {}",
                                     fields.path(name), decimals, format_fixed_point(max, decimals)),
                         fields.path(name));
    return false;
  }
  return true;
}

bool seconds_field(Fields& fields, std::string_view name, std::uint64_t* ns, ApiError* error) {
  std::uint64_t seconds = 0;
  if (!fields.u64(name, &seconds, true, error)) return false;
  if (seconds > UINT64_MAX / payments::ns_per_s) {
    *error = field_error("invalid_time", fmt::format("{} is out of range", fields.path(name)), fields.path(name));
    return false;
  }
  *ns = seconds * payments::ns_per_s;
  return true;
}

}  // namespace

bool parse_fixed_point(std::string_view text, int decimals, std::uint64_t max, std::uint64_t* out) {
  std::uint64_t value = 0;
  int after_point = -1;
  std::size_t digits = 0;
  for (const char c : text) {
    if (c == '.') {
      if (after_point >= 0 || digits == 0) return false;
      after_point = 0;
      continue;
    }
    if (c < '0' || c > '9' || ++digits > 19) return false;
    if (after_point >= 0 && ++after_point > decimals) return false;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (digits == 0 || after_point == 0) return false;
  for (int i = std::max(after_point, 0); i < decimals; ++i) {
    if (value > max) return false;
    value *= 10;
  }
  if (value > max) return false;
  *out = value;
  return true;
}

std::string format_fixed_point(std::uint64_t value, int decimals) {
  std::uint64_t scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  return fmt::format("{}.{:0{}}", value / scale, value % scale, decimals);
}

bool parse_date(std::string_view text, std::uint64_t* day) {
  unsigned y = 0, m = 0, d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (std::size_t i = 0; i < 10; ++i) {
    if (i == 4 || i == 7) continue;
    if (text[i] < '0' || text[i] > '9') return false;
    const unsigned digit = static_cast<unsigned>(text[i] - '0');
    (i < 4 ? y : i < 7 ? m : d) = (i < 4 ? y : i < 7 ? m : d) * 10 + digit;
  }
  const std::chrono::year_month_day date{std::chrono::year(static_cast<int>(y)), std::chrono::month(m),
                                         std::chrono::day(d)};
  if (!date.ok() || y < 1970) return false;
  *day = static_cast<std::uint64_t>(std::chrono::sys_days(date).time_since_epoch().count());
  return true;
}

std::string format_date(std::uint64_t day) {
  const std::chrono::year_month_day date{std::chrono::sys_days(std::chrono::days(day))};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                     static_cast<unsigned>(date.day()));
}

bool parse_clock_advance(std::string& body, std::uint64_t* seconds, ApiError* error) {
  constexpr std::uint64_t advance_s_max = 366ull * 24 * 3600;
  thread_local simdjson::dom::parser parser;
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  auto parsed = parser.parse(body.data(), body.size(), false);
  if (parsed.error() != simdjson::SUCCESS || !parsed.value_unsafe().is_object()) {
    *error = field_error("malformed_json", "the body must be a JSON object", "");
    return false;
  }
  Fields fields(parsed.value_unsafe().get_object().value_unsafe());
  if (!fields.u64("advance_s", seconds, true, error) || !fields.finish(error)) return false;
  if (*seconds == 0 || *seconds > advance_s_max) {
    *error = field_error("invalid_advance", "advance_s is 1 to 31,622,400 (a year)", "advance_s");
    return false;
  }
  return true;
}

bool parse_product_step(Fields& fields, std::uint64_t path_id, const Caller& caller, PaymentStep* step,
                        ApiError* error) {
  payments::Command& c = step->command;
  const auto id_of = [&](std::string_view name, std::uint64_t* out) {
    if (path_id != 0) {
      *out = path_id;
      return true;
    }
    return fields.u64(name, out, true, error);
  };
  const auto user = [&] { return party(fields, "user", PartyKind::user, caller, &c.party, error); };
  const auto institution = [&] {
    return party(fields, "institution", PartyKind::partner, caller, &c.party, error);
  };
  switch (step->op) {
    case PaymentOp::open_institution: {
      std::string kind;
      std::uint64_t solvency_bps = 0;
      payments::InstitutionKind parsed{};
      c.kind = CommandKind::open_institution;
      if (!fields.u64("id", &c.party, true, error) || !fields.text("kind", &kind, true, error) ||
          !fields.u64("assets", &c.b, false, error) ||
          !fields.u64("solvency_bps", &solvency_bps, false, error)) {
        return false;
      }
      if (!institution_kind(kind, &parsed)) {
        *error = field_error("invalid_kind", "kind is bank, insurer, fund_company or other", fields.path("kind"));
        return false;
      }
      if (solvency_bps > UINT32_MAX) {
        *error = field_error("invalid_integer", "solvency_bps must fit 32 bits", fields.path("solvency_bps"));
        return false;
      }
      c.a = static_cast<std::uint64_t>(parsed);
      c.amount = static_cast<std::int64_t>(solvency_bps);
      return true;
    }
    case PaymentOp::create_fund:
      c.kind = CommandKind::create_fund;
      return fields.u64("id", &c.target, true, error) && institution();
    case PaymentOp::fund_subscribe:
      c.kind = CommandKind::fund_subscribe;
      return id_of("fund", &c.target) && user() && fields.amount("amount", &c.amount, true, error);
    case PaymentOp::fund_redeem: {
      bool instant_only = false;
      c.kind = CommandKind::fund_redeem;
      if (!id_of("fund", &c.target) || !user() || !fields.amount("amount", &c.amount, true, error) ||
          !fields.boolean("instant_only", &instant_only, error)) {
        return false;
      }
      c.a = instant_only ? 1 : 0;
      return true;
    }
    case PaymentOp::fund_declare_income: {
      std::string day;
      c.kind = CommandKind::fund_declare_income;
      if (!id_of("fund", &c.target) || !institution() || !fields.text("day", &day, true, error) ||
          !fixed_point_field(fields, "income_per_10k", income_decimals, income_e4_max, &c.b, error)) {
        return false;
      }
      if (!parse_date(day, &c.a)) {
        *error = field_error("invalid_date", "day must be a date, YYYY-MM-DD", fields.path("day"));
        return false;
      }
      return true;
    }
    case PaymentOp::fund_deposit_float:
      c.kind = CommandKind::fund_deposit_float;
      return id_of("fund", &c.target) && institution() && fields.amount("amount", &c.amount, true, error);
    case PaymentOp::list_product:
      c.kind = CommandKind::list_product;
      return fields.u64("id", &c.target, true, error) && institution() &&
             fields.amount("size", &c.amount, true, error) && fields.u64("term_days", &c.a, true, error) &&
             fixed_point_field(fields, "annual_rate", rate_decimals, rate_ppm_max, &c.b, error) &&
             fields.amount("min_amount", &c.terms.min_spend, true, error) &&
             seconds_field(fields, "sale_from", &c.terms.valid_from_ns, error) &&
             seconds_field(fields, "sale_to", &c.terms.valid_to_ns, error);
    case PaymentOp::cancel_product:
      c.kind = CommandKind::cancel_product;
      return id_of("product", &c.target) && institution();
    case PaymentOp::place_standing_order:
      c.kind = CommandKind::place_standing_order;
      return fields.u64("id", &c.target, true, error) && user() &&
             fields.amount("amount", &c.amount, true, error) &&
             fields.u64("max_term_days", &c.a, true, error) &&
             fixed_point_field(fields, "min_rate", rate_decimals, rate_ppm_max, &c.b, error);
    case PaymentOp::cancel_standing_order:
      c.kind = CommandKind::cancel_standing_order;
      return id_of("standing_order", &c.target) && user();
    default:
      break;
  }
  *error = field_error("unknown_op", "not a product operation", "");
  return false;
}

}  // namespace capillary::server
