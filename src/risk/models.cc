#include "risk/models.h"

#include <algorithm>
#include <cmath>

#include "core/assert.h"

namespace capillary::risk {
namespace {

// How a feature enters a model: as is, as log2(1 + x) for counts that grow without bound, or in
// units of 100 CNY for money.
enum class Transform : std::uint8_t { none, value, log2, hundred_yuan };

struct Term {
  Feature feature;
  Transform transform;
  float weight;
};

struct Model {
  std::string_view name;
  float bias;
  std::array<Term, 3> terms;
};

constexpr Term none{Feature::amount, Transform::none, 0};

// Biases sit far below zero so an ordinary event scores a few points; each weight says how many
// log-odds one unit of its signal adds.
constexpr std::array<Model, model_count> models{{
    {"user_burst", -9.0f, {{{Feature::user_count_1m, Transform::log2, 2.2f}, none, none}}},
    {"device_burst", -9.0f, {{{Feature::device_count_1m, Transform::log2, 2.4f}, none, none}}},
    {"ip_burst", -10.0f, {{{Feature::ip_count_1m, Transform::log2, 1.8f}, none, none}}},
    {"device_fanout", -9.5f, {{{Feature::device_users_1h, Transform::value, 2.0f}, none, none}}},
    {"amount_spike",
     -12.0f,
     {{{Feature::amount_to_mean_pct, Transform::log2, 0.9f},
       {Feature::amount_over_max, Transform::value, 1.0f},
       none}}},
    {"new_device",
     -7.0f,
     {{{Feature::device_new, Transform::value, 2.5f},
       {Feature::device_age_min, Transform::log2, -0.3f},
       none}}},
    {"new_city",
     -7.5f,
     {{{Feature::city_new, Transform::value, 2.5f},
       {Feature::city_age_min, Transform::log2, -0.3f},
       none}}},
    {"impossible_travel",
     -6.0f,
     {{{Feature::impossible_travel, Transform::value, 6.5f},
       {Feature::family_travel, Transform::value, -2.0f},
       none}}},
    {"new_payee_payout",
     -8.0f,
     {{{Feature::payee_new, Transform::value, 2.0f},
       {Feature::amount_to_mean_pct, Transform::log2, 0.5f},
       {Feature::is_login, Transform::value, -4.0f}}}},
    {"flagged_counterparty",
     -8.0f,
     {{{Feature::payee_flagged, Transform::value, 8.0f},
       {Feature::payee_near_flagged, Transform::value, 4.5f},
       {Feature::amount, Transform::hundred_yuan, 0.02f}}}},
    {"merchant_risk", -8.0f, {{{Feature::merchant_risk, Transform::value, 1.6f}, none, none}}},
    {"thin_history",
     -6.0f,
     {{{Feature::user_history_count, Transform::log2, -1.2f},
       {Feature::amount, Transform::hundred_yuan, 0.05f},
       none}}},
    {"daily_outflow",
     -9.0f,
     {{{Feature::user_sum_24h, Transform::hundred_yuan, 0.01f},
       {Feature::user_count_24h, Transform::log2, 0.6f},
       none}}},
    {"flagged_account", -8.0f, {{{Feature::user_flagged, Transform::value, 12.0f}, none, none}}},
}};

float transformed(const FeatureVector& features, const Term& term) {
  const auto x = static_cast<float>(features[term.feature]);
  switch (term.transform) {
    case Transform::none:
      return 0;
    case Transform::value:
      return x;
    case Transform::log2:
      return std::log2(1.0f + std::max(0.0f, x));
    case Transform::hundred_yuan:
      return x / 10'000.0f;
  }
  return 0;
}

}  // namespace

std::string_view model_name(std::size_t model) {
  CAP_ASSERT(model < model_count);
  return models[model].name;
}

ModelScores score_models(FeatureVector& features) noexcept {
  ModelScores scores;
  std::int64_t total = 0;
  for (std::size_t m = 0; m < model_count; ++m) {
    float z = models[m].bias;
    for (const Term& term : models[m].terms) z += term.weight * transformed(features, term);
    const float probability = 1.0f / (1.0f + std::exp(-z));
    const auto points = static_cast<std::uint16_t>(probability * model_points_max);
    CAP_ASSERT(points <= model_points_max);
    scores.points[m] = points;
    total += points;
  }
  scores.total = static_cast<std::uint16_t>(std::min(total, model_points_max));
  features[Feature::risk_score] = scores.total;
  return scores;
}

}  // namespace capillary::risk
