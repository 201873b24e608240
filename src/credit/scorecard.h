#pragma once
// The scorecard: what a trained model is, and how it turns a user's features into a score from
// 350 to 950 with an explanation.
//
// Training (train.h) fits ln(odds of repaying) = -intercept + sum over features of weight · WoE(bin)
// and scales it so that `anchor_score` means odds of `anchor_odds_good`:1 and every `pdo_points`
// more points double the odds (points to double the odds). The scaled terms are rounded to whole
// points once, at training, so a score is base_points plus one integer per feature, clamped into
// range: scoring is integer lookups and additions, with no floating point.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "credit/binning.h"
#include "credit/features.h"

namespace capillary::credit {

inline constexpr std::int32_t score_min = 350;
inline constexpr std::int32_t score_max = 950;

struct Scaling {
  // Defaults: 650 (the deposit-waiver line) means 20:1 odds of repaying, and every 50 points
  // doubles them. On the synthetic population that puts the median near 600 and one user in seven
  // at 700+, the shape of the seeds' score.
  std::int32_t pdo_points = 50;        // points that double the odds of repaying
  std::int32_t anchor_score = 650;     // the score at which the odds are anchor_odds_good:1
  std::int32_t anchor_odds_good = 20;  // good:bad odds at the anchor score

  double factor() const noexcept;      // points per unit of ln(odds)
  double offset() const noexcept;      // the score at odds 1:1
  // The two roundings of a trained model, both half away from zero to whole points: a feature's
  // points for a term of ln(odds), and the base points for the fitted intercept.
  std::int32_t points(double log_odds_term) const noexcept;
  std::int32_t base_points(double intercept) const noexcept;
  bool operator==(const Scaling&) const = default;
};

struct FeatureModel {
  double weight = 0;                 // weight of the feature's WoE in ln(odds); 0 when left out
  std::vector<std::int64_t> upper;   // bin upper bounds (binning.h), the last unbounded
  std::vector<double> woe;           // weight of evidence per bin
  std::vector<std::int32_t> points;  // round(factor · weight · woe) per bin

  std::int32_t best_points() const noexcept;
  bool operator==(const FeatureModel&) const = default;
};

// What training measured on its held-out users; kept in the model file for whoever reads it.
struct TrainingSummary {
  std::uint64_t users = 0;
  std::uint64_t seed = 0;
  double auc = 0;
  double ks = 0;
  bool operator==(const TrainingSummary&) const = default;
};

struct Model {
  std::string name;
  Scaling scaling;
  double intercept = 0;            // fitted log-odds of default at WoE 0 everywhere
  std::int32_t base_points = 0;    // round(offset - factor · intercept)
  std::array<FeatureModel, feature_count> features;
  TrainingSummary training;
  bool operator==(const Model&) const = default;
};

// The reasons an explanation gives: the features costing most points against their best bin.
inline constexpr std::size_t reasons_max = 4;

struct Reason {
  Feature feature;
  std::int64_t value;
  std::int32_t points_lost;  // best_points() - points of the user's bin; > 0
  bool operator==(const Reason&) const = default;
};

struct Explanation {
  std::int32_t score = 0;
  std::int32_t base_points = 0;
  std::array<std::int32_t, dimension_count> dimension_points{};  // sum over the dimension's features
  std::array<Reason, reasons_max> reasons{};                     // largest loss first
  std::size_t reason_count = 0;
};

// A model compiled for scoring. Each feature's bounds and points sit in fixed arrays padded with
// the unbounded bound, so finding a bin is a branch-free count over bins_max integers and the whole
// scorecard (~2 KiB) stays in the L1 cache while a population is rescored. Scoring and explaining
// are noexcept and allocate nothing.
class Scorecard {
 public:
  // `model` must be valid (check_model in model_file.h); nothing of it is kept.
  explicit Scorecard(const Model& model) noexcept;

  std::int32_t score(const Features& features) const noexcept;
  Explanation explain(const Features& features) const noexcept;

 private:
  struct Table {
    std::array<std::int64_t, bins_max> upper;
    std::array<std::int32_t, bins_max> points;
    std::int32_t best_points;
    std::uint8_t dimension;  // index(Dimension), copied here to keep the loop off features.cc
  };
  std::int32_t bin_points(std::size_t feature, std::int64_t value) const noexcept;

  std::array<Table, feature_count> tables_;
  std::int32_t base_points_;
};

}  // namespace capillary::credit
