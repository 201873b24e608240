#include "server/product_reads.h"

#include <fmt/format.h>

#include <iterator>

#include "server/json_codec.h"
#include "server/product_json.h"

namespace capillary::server {
namespace {

constexpr int rate_decimals = 6;
constexpr int income_decimals = 4;

std::string_view name(payments::InstitutionKind kind) {
  switch (kind) {
    case payments::InstitutionKind::bank: return "bank";
    case payments::InstitutionKind::insurer: return "insurer";
    case payments::InstitutionKind::fund_company: return "fund_company";
    case payments::InstitutionKind::other: return "other";
  }
  return "unknown";
}

std::string_view name(wealth::ProductState state) {
  switch (state) {
    case wealth::ProductState::listed: return "listed";
    case wealth::ProductState::on_sale: return "on_sale";
    case wealth::ProductState::established: return "established";
    case wealth::ProductState::matured: return "matured";
    case wealth::ProductState::unfilled: return "unfilled";
    case wealth::ProductState::cancelled: return "cancelled";
  }
  return "unknown";
}

std::string_view name(wealth::StandingOrderState state) {
  switch (state) {
    case wealth::StandingOrderState::open: return "open";
    case wealth::StandingOrderState::filled: return "filled";
    case wealth::StandingOrderState::cancelled: return "cancelled";
  }
  return "unknown";
}

std::uint64_t seconds(std::uint64_t ns) { return ns / payments::ns_per_s; }

void write_product(std::string& out, const wealth::ProductRecord& p) {
  fmt::format_to(std::back_inserter(out),
                 "{{\"id\":\"{}\",\"issuer\":\"{}\",\"state\":\"{}\",\"size\":\"{}\",\"sold\":\"{}\","
                 "\"min_amount\":\"{}\",\"annual_rate\":\"{}\",\"term_days\":{},\"sale_from\":{},"
                 "\"sale_to\":{},\"matures_at\":{},\"fills\":{},\"repaid\":\"{}\"}}",
                 p.id, p.issuer, name(p.state), p.size, p.sold, p.min_amount,
                 format_fixed_point(p.rate_ppm, rate_decimals), p.term_days, seconds(p.valid_from_ns),
                 seconds(p.valid_to_ns), seconds(p.matures_at_ns), p.fills, p.repaid);
}

void write_fills(std::string& out, const std::vector<wealth::FillRecord>& fills) {
  out += '[';
  for (std::size_t i = 0; i < fills.size(); ++i) {
    if (i > 0) out += ',';
    fmt::format_to(std::back_inserter(out), "{{\"fill\":\"{}\",\"order\":\"{}\",\"product\":\"{}\",\"user\":\"{}\",\"amount\":\"{}\"}}",
                   fills[i].id, fills[i].order, fills[i].product, fills[i].user, fills[i].amount);
  }
  out += ']';
}

std::string date_or_null(std::uint64_t day) { return day == 0 ? "null" : fmt::format("\"{}\"", format_date(day)); }

std::int64_t balance(const engine::State& state, payments::AccountKind kind, std::uint64_t id) {
  const ledger::Account* account = state.ledger.find_account(payments::account_id(kind, id));
  return account == nullptr ? 0 : account->credits_posted - account->debits_posted;
}

// What anyone may see of a fund: its size, its float and its recent income, as a fund's
// factsheet shows them.
void write_fund(std::string& out, const engine::State& state, const fund::FundRecord& f,
                std::optional<std::int64_t> yield_ppm, std::size_t holders) {
  using payments::AccountKind;
  fmt::format_to(std::back_inserter(out),
                 "{{\"id\":\"{}\",\"company\":\"{}\",\"shares\":\"{}\",\"pending\":\"{}\",\"holders\":{},"
                 "\"custody\":\"{}\",\"float\":\"{}\",\"float_owed\":\"{}\",\"income_total\":\"{}\","
                 "\"residue_total\":\"{}\",\"last_income_day\":{},\"yield_7d\":{},\"recent_income_per_10k\":[",
                 f.id, f.company, f.confirmed_total, f.pending_total, holders,
                 balance(state, AccountKind::fund_custody, f.id), balance(state, AccountKind::fund_float, f.id),
                 f.float_owed, f.income_total, f.residue_total, date_or_null(f.last_declared_day),
                 yield_ppm ? fmt::format("\"{}\"", format_fixed_point(static_cast<std::uint64_t>(std::max<std::int64_t>(*yield_ppm, 0)), rate_decimals))
                           : std::string("null"));
  for (std::uint32_t i = 0; i < f.incomes_count; ++i) {
    fmt::format_to(std::back_inserter(out), "{}\"{}\"", i > 0 ? "," : "",
                   format_fixed_point(f.incomes_per_10k_e4[i], income_decimals));
  }
  out += "]}";
}

}  // namespace

std::optional<ProductRead> product_read_of(std::span<const std::string_view> segments, std::uint64_t id) {
  using Kind = ProductRead::Kind;
  const std::size_t n = segments.size();
  const std::string_view resource = segments[0];
  std::uint64_t sub = 0;
  if (n == 2 && resource == "institutions") return ProductRead{Kind::institution, id, 0};
  if (n == 2 && resource == "products") return ProductRead{Kind::product, id, 0};
  if (n == 2 && resource == "standing-orders") return ProductRead{Kind::standing_order, id, 0};
  if (n == 3 && resource == "users" && segments[2] == "wealth") return ProductRead{Kind::user_wealth, id, 0};
  if (n == 2 && resource == "funds") return ProductRead{Kind::fund, id, 0};
  if (n == 4 && resource == "funds" && segments[2] == "holders" && parse_decimal(segments[3], &sub)) {
    return ProductRead{Kind::fund_holder, id, sub};
  }
  if (n == 4 && resource == "funds" && segments[2] == "income" && parse_date(segments[3], &sub)) {
    return ProductRead{Kind::fund_income, id, sub};
  }
  return std::nullopt;
}

unsigned answer_product_read(const engine::State& state, const auth::Principal& principal,
                             const ProductRead& read, std::uint64_t now_ns, std::string* body) {
  const auto own = [&](auth::PrincipalKind who, std::uint64_t owner) {
    return principal.kind == auth::PrincipalKind::platform || (principal.kind == who && principal.id == owner);
  };
  const wealth::Market& market = state.payments.market();
  std::string& out = *body;
  switch (read.kind) {
    case ProductRead::Kind::institution: {
      const payments::InstitutionRecord* found = state.payments.find_institution(read.id);
      if (found == nullptr || !own(auth::PrincipalKind::partner, read.id)) break;
      const ledger::Account* account =
          state.ledger.find_account(payments::account_id(payments::AccountKind::institution, read.id));
      fmt::format_to(std::back_inserter(out),
                     "{{\"id\":\"{}\",\"kind\":\"{}\",\"assets\":\"{}\",\"solvency_bps\":{},\"balance\":\"{}\"}}",
                     read.id, name(found->kind), found->assets, found->solvency_bps,
                     account == nullptr ? 0 : account->credits_posted - account->debits_posted);
      return 200;
    }
    case ProductRead::Kind::product: {
      const wealth::ProductRecord* found = market.find_product(read.id);
      if (found == nullptr) break;
      write_product(out, *found);
      if (own(auth::PrincipalKind::partner, found->issuer)) {
        out.pop_back();
        out += ",\"subscriptions\":";
        write_fills(out, market.fills_of_product(read.id));
        out += '}';
      }
      return 200;
    }
    case ProductRead::Kind::standing_order: {
      const wealth::StandingOrderRecord* found = market.find_order(read.id);
      if (found == nullptr || !own(auth::PrincipalKind::user, found->user)) break;
      fmt::format_to(std::back_inserter(out),
                     "{{\"id\":\"{}\",\"user\":\"{}\",\"state\":\"{}\",\"amount\":\"{}\",\"unmatched\":\"{}\","
                     "\"filled\":\"{}\",\"released\":\"{}\",\"max_term_days\":{},\"min_rate\":\"{}\",\"fills\":",
                     found->id, found->user, name(found->state), found->amount, found->unmatched, found->filled,
                     found->released, found->max_term_days, format_fixed_point(found->min_rate_ppm, rate_decimals));
      write_fills(out, market.fills_of_order(read.id));
      out += '}';
      return 200;
    }
    case ProductRead::Kind::fund: {
      const fund::FundRecord* found = state.payments.funds().find_fund(read.id);
      if (found == nullptr) break;
      write_fund(out, state, *found, state.payments.funds().yield_7d_ppm(read.id),
                 state.payments.funds().holders(read.id));
      return 200;
    }
    case ProductRead::Kind::fund_holder: {
      const fund::FundRecord* found = state.payments.funds().find_fund(read.id);
      if (found == nullptr || !(own(auth::PrincipalKind::user, read.sub) ||
                                own(auth::PrincipalKind::partner, found->company))) {
        break;
      }
      const std::optional<fund::HolderView> holder =
          state.payments.funds().holder(read.id, read.sub, now_ns);
      if (!holder) break;
      fmt::format_to(std::back_inserter(out),
                     "{{\"fund\":\"{}\",\"user\":\"{}\",\"shares\":\"{}\",\"pending\":\"{}\",\"confirm_day\":{},"
                     "\"yesterday_income\":\"{}\",\"income_day\":{},\"cumulative_income\":\"{}\","
                     "\"instant_left_today\":\"{}\"}}",
                     read.id, read.sub, holder->confirmed, holder->pending, date_or_null(holder->confirm_day),
                     holder->income_last, date_or_null(holder->income_day), holder->income_total,
                     holder->instant_left);
      return 200;
    }
    case ProductRead::Kind::fund_income: {
      const fund::FundRecord* found = state.payments.funds().find_fund(read.id);
      const fund::IncomeRun* run = state.payments.funds().find_run(read.id, read.sub);
      if (found == nullptr || run == nullptr || !own(auth::PrincipalKind::partner, found->company)) break;
      fmt::format_to(std::back_inserter(out),
                     "{{\"fund\":\"{}\",\"day\":\"{}\",\"income_per_10k\":\"{}\",\"eligible_shares\":\"{}\","
                     "\"declared\":\"{}\",\"credited\":\"{}\",\"residue\":\"{}\",\"holders\":{},\"done_holders\":{},"
                     "\"paid_holders\":{},\"done\":{}}}",
                     read.id, format_date(run->day), format_fixed_point(run->income_per_10k_e4, income_decimals),
                     run->eligible, run->declared, run->credited, run->residue, run->holders, run->cursor,
                     run->paid, run->done != 0);
      return 200;
    }
    case ProductRead::Kind::user_wealth: {
      if (state.payments.find_user(read.id) == nullptr || !own(auth::PrincipalKind::user, read.id)) break;
      fmt::format_to(std::back_inserter(out), "{{\"user\":\"{}\",\"holdings\":[", read.id);
      const std::vector<wealth::HoldingView> holdings = market.holdings(read.id);
      for (std::size_t i = 0; i < holdings.size(); ++i) {
        const wealth::HoldingView& h = holdings[i];
        fmt::format_to(std::back_inserter(out),
                       "{}{{\"product\":\"{}\",\"principal\":\"{}\",\"expected_interest\":\"{}\",\"matures_at\":{},"
                       "\"state\":\"{}\"}}",
                       i > 0 ? "," : "", h.product, h.principal, h.expected_interest, seconds(h.matures_at_ns),
                       name(h.state));
      }
      out += "]}";
      return 200;
    }
  }
  out.clear();
  write_error(out, {404, "not_found", "no such record for this caller", {}});
  return 404;
}

}  // namespace capillary::server
