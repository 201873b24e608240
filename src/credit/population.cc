#include "credit/population.h"

#include <algorithm>
#include <cmath>

#include "core/assert.h"
#include "credit/random.h"

namespace capillary::credit {
namespace {

// Ceilings that keep synthetic values in the range real accounts show.
constexpr std::int64_t loans_max = 40;
constexpr std::int64_t overdue_days_cap = 720;
constexpr std::int64_t account_age_days_max = 6000;
constexpr std::int64_t volatility_pct_max = 500;
constexpr std::int64_t categories_max = 40;
constexpr std::int64_t family_links_max = 8;
constexpr std::int64_t months_per_year = 12;
constexpr std::int64_t instalments_per_loan = 6;

double logistic(double x) noexcept { return 1.0 / (1.0 + std::exp(-x)); }

// Synthetic draws are real-valued; features are integers, so each is floored exactly once, here.
std::int64_t floor_clamped(double x, std::int64_t low, std::int64_t high) noexcept {
  return std::clamp(static_cast<std::int64_t>(std::floor(std::clamp(
                        x, static_cast<double>(low), static_cast<double>(high)))),
                    low, high);
}

// An amount in fen drawn from a log-normal: median exp(mu) fen.
std::int64_t lognormal_fen(double mu, double sigma_times_normal) noexcept {
  constexpr std::int64_t fen_max = 1'000'000'000'00;  // 1 billion CNY: far above any wallet
  return floor_clamped(std::exp(mu + sigma_times_normal), 0, fen_max);
}

struct Traits {
  double conscientious, wealth, tenure, social;
};

Features draw_features(const Traits& t, Random& random) {
  using enum Feature;
  Features f;
  f[loans_taken] = floor_clamped(1.8 + 0.9 * t.tenure + 1.7 * random.normal(), 0, loans_max);
  const double on_time_share =
      logistic(2.6 + 1.3 * t.conscientious + 0.5 * random.normal());
  const std::int64_t instalments = f[loans_taken] * instalments_per_loan;
  f[on_time_repayments] = floor_clamped(static_cast<double>(instalments) * on_time_share + 0.5, 0,
                                        instalments);
  f[overdue_count] = instalments - f[on_time_repayments];
  f[overdue_days_max] =
      f[overdue_count] == 0
          ? 0
          : floor_clamped(std::exp(2.4 - 0.7 * t.conscientious + 0.9 * random.normal()), 1,
                          overdue_days_cap);

  const double active_share = logistic(1.0 + 0.8 * t.conscientious + 0.5 * t.tenure);
  for (std::int64_t month = 0; month < months_per_year; ++month) {
    f[active_payment_months] += random.bernoulli(active_share) ? 1 : 0;
  }
  f[spending_categories] =
      floor_clamped(5.0 + 1.5 * t.wealth + 0.5 * t.conscientious + 2.0 * random.normal(), 1,
                    categories_max);
  f[spend_volatility_pct] = floor_clamped(
      std::exp(3.5 - 0.4 * t.conscientious - 0.3 * t.tenure + 0.4 * random.normal()), 1,
      volatility_pct_max);

  f[wallet_balance_fen] = lognormal_fen(9.5 + 1.3 * t.wealth, 0.9 * random.normal());
  f[fund_balance_fen] = random.bernoulli(logistic(0.8 * t.wealth))
                            ? lognormal_fen(11.0 + 1.4 * t.wealth, 1.0 * random.normal())
                            : 0;
  f[monthly_inflow_fen] = lognormal_fen(13.0 + 0.7 * t.wealth, 0.4 * random.normal());

  f[verified] = random.bernoulli(logistic(1.5 + 0.8 * t.tenure + 0.5 * t.conscientious)) ? 1 : 0;
  f[account_age_days] =
      floor_clamped(std::exp(6.3 + 0.8 * t.tenure + 0.3 * random.normal()), 1,
                    account_age_days_max);
  f[details_stable_days] = std::min(
      f[account_age_days],
      floor_clamped(std::exp(5.5 + 0.7 * t.tenure + 0.35 * t.conscientious +
                             0.6 * random.normal()),
                    0, account_age_days_max));

  f[counterparty_standing_pct] = floor_clamped(
      100.0 * logistic(2.0 + 0.8 * t.social + 0.5 * t.conscientious + 0.5 * random.normal()), 0,
      100);
  f[family_links] =
      floor_clamped(0.8 + 0.6 * t.social + 0.9 * random.normal(), 0, family_links_max);
  return f;
}

// The latent default model: log-odds of default from the observed features and two interactions.
// Its coefficients are the "truth" the scorecard must recover; generate_user adds noise to it that
// the features do not reveal.
double default_log_odds(const Features& f) {
  using enum Feature;
  const auto value = [&](Feature feature) { return static_cast<double>(f[feature]); };
  const double log_assets_cny =
      std::log1p((value(wallet_balance_fen) + value(fund_balance_fen)) / 100.0);
  const double log_inflow_cny = std::log1p(value(monthly_inflow_fen) / 100.0);
  double x = 0.4;
  x += 0.35 * std::min(value(overdue_count), 6.0);
  x += 0.010 * std::min(value(overdue_days_max), 180.0);
  x -= 0.04 * std::min(value(on_time_repayments), 30.0);
  x += f[loans_taken] == 0 ? 0.5 : 0.06 * std::max(value(loans_taken) - 8.0, 0.0);
  x -= 0.12 * value(active_payment_months);
  x += 0.004 * value(spend_volatility_pct);
  x -= 0.16 * log_assets_cny;
  x -= 0.25 * (log_inflow_cny - 8.0);
  x -= 0.5 * value(verified);
  x -= 0.25 * std::log1p(value(account_age_days) / 30.0);
  x -= 0.10 * std::log1p(value(details_stable_days) / 30.0);
  x -= 0.02 * (value(counterparty_standing_pct) - 80.0);
  x -= 0.15 * std::min(value(family_links), 3.0);
  // Interactions: overdue with nothing to fall back on; unverified and new.
  if (f[overdue_count] > 0 && log_assets_cny < std::log1p(1000.0)) x += 0.6;
  if (f[verified] == 0 && f[account_age_days] < 180) x += 0.7;
  return x;
}

// Standard deviation of the hidden noise on the log-odds: what keeps even the true model's AUC
// well below 1.
constexpr double hidden_noise_sigma = 0.8;

}  // namespace

SyntheticUser generate_user(std::uint64_t seed, std::uint64_t user) noexcept {
  Random random(user_seed(seed, user));
  const double conscientious = random.normal();
  const Traits traits{conscientious, random.normal(), random.normal(),
                      0.4 * conscientious + 0.9 * random.normal()};
  SyntheticUser result;
  result.features = draw_features(traits, random);
  result.default_log_odds = default_log_odds(result.features);
  result.defaulted =
      random.bernoulli(logistic(result.default_log_odds + hidden_noise_sigma * random.normal()));
  for (const std::int64_t value : result.features.values) CAP_ASSERT(value >= 0);
  return result;
}

std::vector<SyntheticUser> generate_population(std::uint64_t seed, std::uint64_t count) {
  std::vector<SyntheticUser> users;
  users.reserve(count);
  for (std::uint64_t user = 0; user < count; ++user) users.push_back(generate_user(seed, user));
  return users;
}

}  // namespace capillary::credit
