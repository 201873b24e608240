#include "server/product_reads.h"

#include <fmt/format.h>

#include <iterator>

#include "server/json_codec.h"
#include "server/product_json.h"

namespace capillary::server {
namespace {

constexpr int rate_decimals = 6;

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

}  // namespace

std::optional<ProductRead> product_read_of(std::string_view resource, std::uint64_t id, std::string_view action,
                                           std::size_t segments) {
  using Kind = ProductRead::Kind;
  if (segments == 2 && resource == "institutions") return ProductRead{Kind::institution, id};
  if (segments == 2 && resource == "products") return ProductRead{Kind::product, id};
  if (segments == 2 && resource == "standing-orders") return ProductRead{Kind::standing_order, id};
  if (segments == 3 && resource == "users" && action == "wealth") return ProductRead{Kind::user_wealth, id};
  return std::nullopt;
}

unsigned answer_product_read(const engine::State& state, const auth::Principal& principal,
                             const ProductRead& read, std::string* body) {
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
