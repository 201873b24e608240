#pragma once
// Many cheap models, each a logistic score over one risk signal (a few features), combined into
// risk_score. Each model says how much its own signal looks like fraud, from 0 to 1000 points;
// risk_score is their sum, capped at 1000. A model is a table row (bias and up to three weighted
// terms), so adding one is a line in models.cc, and every decision can name the models behind it.
//
// The weights are hand-set priors read off each signal's meaning (documented in docs/risk.md),
// not fitted to the synthetic stream the benchmark uses.

#include <array>
#include <cstdint>
#include <string_view>

#include "risk/features.h"

namespace capillary::risk {

inline constexpr std::size_t model_count = 14;
inline constexpr std::int64_t model_points_max = 1000;

struct ModelScores {
  std::array<std::uint16_t, model_count> points{};  // per model, 0..1000
  std::uint16_t total = 0;                          // sum, capped at 1000
};

std::string_view model_name(std::size_t model);

// Scores every model on `features` (risk_score is not read) and stores the total in
// features[risk_score]. Cheap: a few multiplications and one exp per model.
ModelScores score_models(FeatureVector& features) noexcept;

}  // namespace capillary::risk
