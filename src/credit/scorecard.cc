#include "credit/scorecard.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/assert.h"
#include "credit/binning.h"

namespace capillary::credit {
namespace {

std::int32_t feature_points(const FeatureModel& feature, std::int64_t value) noexcept {
  return feature.points[bin_of(feature.upper, value)];
}

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

std::int32_t score(const Model& model, const Features& features) noexcept {
  std::int64_t raw = model.base_points;
  for (std::size_t i = 0; i < feature_count; ++i) {
    raw += feature_points(model.features[i], features.values[i]);
  }
  return clamp_score(raw);
}

Explanation explain(const Model& model, const Features& features) noexcept {
  Explanation explanation;
  explanation.base_points = model.base_points;
  std::int64_t raw = model.base_points;
  for (std::size_t i = 0; i < feature_count; ++i) {
    const Feature feature = feature_at(i);
    const FeatureModel& feature_model = model.features[i];
    const std::int32_t points = feature_points(feature_model, features.values[i]);
    raw += points;
    explanation.dimension_points[index(spec(feature).dimension)] += points;
    const Reason reason{feature, features.values[i], feature_model.best_points() - points};
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
