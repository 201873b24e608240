#pragma once
// What the credit score looks at: one integer per feature, grouped into the five dimensions of the
// score (SPEC §4). Amounts are fen, durations days, the rest counts or percents; nothing is a
// floating-point number, so the same state always lands in the same bin.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace capillary::credit {

enum class Dimension : std::uint8_t { history, behaviour, capacity, identity, relationships };
inline constexpr std::size_t dimension_count = 5;

enum class Feature : std::uint8_t {
  // credit history
  on_time_repayments,         // instalments repaid on time, ever
  overdue_count,              // instalments that went overdue, ever
  overdue_days_max,           // the longest any of them stayed overdue, days
  loans_taken,                // loans and credit-line draws taken, ever
  // behaviour
  active_payment_months,      // of the last 12 months, those with at least one payment
  spending_categories,        // distinct merchant categories paid in the last 12 months
  spend_volatility_pct,       // month-to-month spread of spending, % of the mean
  // capacity to fulfil
  wallet_balance_fen,
  fund_balance_fen,
  monthly_inflow_fen,         // average money in per month (salary, transfers received)
  // identity
  verified,                   // 1 when the real-name verification passed
  account_age_days,
  details_stable_days,        // days since the phone number or address last changed
  // relationships
  counterparty_standing_pct,  // share of frequent counterparties in good standing
  family_links,               // linked family accounts
};
inline constexpr std::size_t feature_count = 15;

// Which way a feature may move the score. `rising`: a larger value never costs points; `falling`:
// a larger value never earns points; `free`: the data decides bin by bin (a thin file and an
// over-borrowed one are both risky, so loans_taken is free).
enum class Monotonic : std::uint8_t { free, rising, falling };

struct FeatureSpec {
  std::string_view name;       // as written in model files and explanations
  Dimension dimension;
  Monotonic monotonic;
  std::string_view reason;     // the reason given when this feature costs points
};

const FeatureSpec& spec(Feature feature) noexcept;
std::string_view name(Dimension dimension) noexcept;
std::string_view name(Monotonic monotonic) noexcept;

inline constexpr std::size_t index(Feature feature) noexcept {
  return static_cast<std::size_t>(feature);
}
inline constexpr std::size_t index(Dimension dimension) noexcept {
  return static_cast<std::size_t>(dimension);
}
inline constexpr Feature feature_at(std::size_t i) noexcept { return static_cast<Feature>(i); }

// One user's features, indexed by Feature.
struct Features {
  std::array<std::int64_t, feature_count> values{};

  std::int64_t& operator[](Feature feature) noexcept { return values[index(feature)]; }
  std::int64_t operator[](Feature feature) const noexcept { return values[index(feature)]; }
  bool operator==(const Features&) const = default;
};

}  // namespace capillary::credit
