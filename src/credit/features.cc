#include "credit/features.h"

#include "core/assert.h"

namespace capillary::credit {
namespace {

using enum Dimension;
using enum Monotonic;

// In Feature order; features.cc is the one place that says what each feature means for the score.
constexpr std::array<FeatureSpec, feature_count> specs{{
    {"on_time_repayments", history, rising, "few repayments made on time"},
    {"overdue_count", history, falling, "repayments that went overdue"},
    {"overdue_days_max", history, falling, "a long overdue period"},
    {"loans_taken", history, free, "a borrowing history that is too thin or too heavy"},
    {"active_payment_months", behaviour, rising, "irregular use of payments"},
    {"spending_categories", behaviour, free, "a narrow or unusual spending pattern"},
    {"spend_volatility_pct", behaviour, falling, "unstable monthly spending"},
    {"wallet_balance_fen", capacity, rising, "a low wallet balance"},
    {"fund_balance_fen", capacity, rising, "little or nothing saved in the fund"},
    {"monthly_inflow_fen", capacity, rising, "low monthly income"},
    {"verified", identity, rising, "real-name verification not completed"},
    {"account_age_days", identity, rising, "a young account"},
    {"details_stable_days", identity, rising, "phone number or address changed recently"},
    {"counterparty_standing_pct", relationships, rising,
     "frequent counterparties in poor standing"},
    {"family_links", relationships, rising, "no linked family accounts"},
}};

}  // namespace

const FeatureSpec& spec(Feature feature) noexcept {
  CAP_ASSERT(index(feature) < feature_count);
  return specs[index(feature)];
}

std::string_view name(Dimension dimension) noexcept {
  switch (dimension) {
    case history: return "history";
    case behaviour: return "behaviour";
    case capacity: return "capacity";
    case identity: return "identity";
    case relationships: return "relationships";
  }
  CAP_ASSERT(false);
}

std::string_view name(Monotonic monotonic) noexcept {
  switch (monotonic) {
    case free: return "free";
    case rising: return "rising";
    case falling: return "falling";
  }
  CAP_ASSERT(false);
}

}  // namespace capillary::credit
