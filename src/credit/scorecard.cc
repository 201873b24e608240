#include "credit/scorecard.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/assert.h"

namespace capillary::credit {
namespace {

std::int32_t clamp_score(std::int64_t raw) noexcept {
  return static_cast<std::int32_t>(std::clamp<std::int64_t>(raw, score_min, score_max));
}

}  // namespace

double Scaling::factor() const noexcept {
  return static_cast<double>(pdo_points) / std::numbers::ln2;
}

double Scaling::offset() const noexcept {
  return static_cast<double>(anchor_score) - factor() * std::log(anchor_odds_good);
}

std::int32_t Scaling::points(double log_odds_term) const noexcept {
  const double points = std::round(factor() * log_odds_term);
  CAP_ASSERT(std::abs(points) <= score_max);
  return static_cast<std::int32_t>(points);
}

std::int32_t Scaling::base_points(double intercept) const noexcept {
  const double points = std::round(offset() - factor() * intercept);
  CAP_ASSERT(std::abs(points) <= 4 * score_max);
  return static_cast<std::int32_t>(points);
}

std::int32_t FeatureModel::best_points() const noexcept {
  CAP_ASSERT(!points.empty());
  return *std::max_element(points.begin(), points.end());
}

Scorecard::Scorecard(const Model& model) noexcept : base_points_(model.base_points) {
  for (std::size_t i = 0; i < feature_count; ++i) {
    const FeatureModel& feature = model.features[i];
    CAP_ASSERT(!feature.upper.empty() && feature.upper.size() <= bins_max);
    CAP_ASSERT(feature.points.size() == feature.upper.size());
    CAP_ASSERT(feature.upper.back() == bin_upper_unbounded);
    Table& table = tables_[i];
    table.upper.fill(bin_upper_unbounded);
    table.points.fill(feature.points.back());
    std::copy(feature.upper.begin(), feature.upper.end(), table.upper.begin());
    std::copy(feature.points.begin(), feature.points.end(), table.points.begin());
    table.best_points = feature.best_points();
    table.dimension = static_cast<std::uint8_t>(index(spec(feature_at(i)).dimension));
  }
}

std::int32_t Scorecard::bin_points(std::size_t feature, std::int64_t value) const noexcept {
  const Table& table = tables_[feature];
  // The bin is the number of upper bounds below the value (binning.h); the padding never is.
  std::size_t bin = 0;
  for (const std::int64_t upper : table.upper) bin += value > upper ? 1 : 0;
  return table.points[bin];
}

std::int32_t Scorecard::score(const Features& features) const noexcept {
  std::int64_t raw = base_points_;
  for (std::size_t i = 0; i < feature_count; ++i) raw += bin_points(i, features.values[i]);
  return clamp_score(raw);
}

Explanation Scorecard::explain(const Features& features) const noexcept {
  Explanation explanation;
  explanation.base_points = base_points_;
  std::int64_t raw = base_points_;
  for (std::size_t i = 0; i < feature_count; ++i) {
    const std::int32_t points = bin_points(i, features.values[i]);
    raw += points;
    explanation.dimension_points[tables_[i].dimension] += points;
    const Reason reason{feature_at(i), features.values[i], tables_[i].best_points - points};
    if (reason.points_lost <= 0) continue;
    // Insert into the short list, largest loss first; ties keep feature order.
    std::size_t at = explanation.reason_count;
    while (at > 0 && explanation.reasons[at - 1].points_lost < reason.points_lost) --at;
    if (at >= reasons_max) continue;
    const std::size_t last = std::min(explanation.reason_count, reasons_max - 1);
    for (std::size_t j = last; j > at; --j) explanation.reasons[j] = explanation.reasons[j - 1];
    explanation.reasons[at] = reason;
    explanation.reason_count = std::min(explanation.reason_count + 1, reasons_max);
  }
  std::int64_t by_dimension = explanation.base_points;
  for (const std::int32_t points : explanation.dimension_points) by_dimension += points;
  CAP_ASSERT(by_dimension == raw);
  explanation.score = clamp_score(raw);
  return explanation;
}

}  // namespace capillary::credit
