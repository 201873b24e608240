#include "credit/train.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/assert.h"
#include "credit/binning.h"
#include "credit/logistic.h"
#include "credit/model_file.h"
#include "credit/population.h"
#include "credit/woe.h"

namespace capillary::credit {
namespace {

// Log-odds are ranked as integers in millionths: finer than any difference that matters.
constexpr double ceiling_rank_per_log_odds = 1e6;

struct Split {
  std::vector<Features> train, test;
  std::vector<std::uint8_t> train_bad, test_bad;
  std::vector<std::int32_t> test_ceiling_rank;  // minus the generator's log-odds, in millionths
};

Split generate(const TrainOptions& options) {
  Split split;
  for (std::uint64_t user = 0; user < options.users; ++user) {
    const SyntheticUser u = generate_user(options.seed, user);
    const bool test = held_out(user);
    (test ? split.test : split.train).push_back(u.features);
    (test ? split.test_bad : split.train_bad).push_back(u.defaulted ? 1 : 0);
    if (test) {
      split.test_ceiling_rank.push_back(
          static_cast<std::int32_t>(std::lround(-u.default_log_odds * ceiling_rank_per_log_odds)));
    }
  }
  return split;
}

// Bins and weights of evidence for one feature over the training users.
FeatureModel bin_feature(Feature feature, const Split& split) {
  std::vector<std::int64_t> values;
  values.reserve(split.train.size());
  for (const Features& f : split.train) values.push_back(f[feature]);
  Bins bins = quantile_bins(values, split.train_bad, bins_max,
                            split.train.size() / bin_share_min_denominator);
  merge_monotonic(bins, spec(feature).monotonic);
  FeatureModel model;
  model.upper = bins.upper;
  model.woe = weights_of_evidence(bins);
  return model;
}

// Fits on the features in `used`, dropping the one with the most negative weight until none is
// negative. Returns the fit; `used` ends up holding the features kept.
LogisticFit fit_positive(const std::array<FeatureModel, feature_count>& features,
                         const Split& split, std::vector<std::size_t>& used,
                         const TrainOptions& options) {
  for (;;) {
    std::vector<double> x;
    x.reserve(split.train.size() * used.size());
    for (const Features& f : split.train) {
      for (const std::size_t i : used) {
        const FeatureModel& m = features[i];
        x.push_back(m.woe[bin_of(m.upper, f.values[i])]);
      }
    }
    const LogisticFit fit = fit_logistic(x, used.size(), split.train_bad);
    if (options.progress) {
      options.progress(fmt::format("  fit on {} features: {} Newton steps, deviance {:.1f}{}",
                                   used.size(), fit.iterations, fit.deviance,
                                   fit.converged ? "" : " (NOT converged)"));
    }
    CAP_ASSERT(fit.converged);
    // The regression is on default, so a feature that helps has a negative slope on its WoE.
    const auto most_negative_weight = std::max_element(fit.slopes.begin(), fit.slopes.end());
    if (fit.slopes.empty() || *most_negative_weight <= 0) return fit;
    const std::size_t drop = used[static_cast<std::size_t>(most_negative_weight - fit.slopes.begin())];
    if (options.progress) {
      options.progress(fmt::format("  leaving out {}: its weight came out negative",
                                   spec(feature_at(drop)).name));
    }
    used.erase(std::find(used.begin(), used.end(), drop));
  }
}

}  // namespace

TrainResult train(const TrainOptions& options) {
  CAP_ASSERT(options.users >= training_users_min);
  const auto progress = [&](std::string_view line) {
    if (options.progress) options.progress(line);
  };
  progress(fmt::format("generating {} users (seed {})...", options.users, options.seed));
  const Split split = generate(options);
  TrainResult result;
  result.train_users = split.train.size();
  result.test_users = split.test.size();
  result.test_defaults = static_cast<std::uint64_t>(
      std::count(split.test_bad.begin(), split.test_bad.end(), 1));
  progress(fmt::format("  {} to train on, {} held out; default rate {:.1f}%", result.train_users,
                       result.test_users,
                       100.0 * static_cast<double>(result.test_defaults) /
                           static_cast<double>(result.test_users)));

  Model& model = result.model;
  model.name = options.name;
  model.scaling = options.scaling;
  std::vector<std::size_t> used;
  progress("binning features...");
  for (std::size_t i = 0; i < feature_count; ++i) {
    model.features[i] = bin_feature(feature_at(i), split);
    progress(fmt::format("  {:<26} {:>2} bins", spec(feature_at(i)).name,
                         model.features[i].upper.size()));
    // A single bin carries no evidence: its column would be constant.
    if (model.features[i].upper.size() > 1) used.push_back(i);
  }

  progress("fitting logistic regression on weights of evidence...");
  const LogisticFit fit = fit_positive(model.features, split, used, options);
  result.features_used = used.size();
  model.intercept = fit.intercept;
  model.base_points = model.scaling.base_points(fit.intercept);
  for (std::size_t k = 0; k < used.size(); ++k) model.features[used[k]].weight = -fit.slopes[k];
  for (FeatureModel& feature : model.features) {
    for (const double woe : feature.woe) {
      feature.points.push_back(model.scaling.points(feature.weight * woe));
    }
  }

  progress("scoring held-out users...");
  std::vector<std::int32_t> scores;
  scores.reserve(split.test.size());
  const Scorecard scorecard(model);
  for (const Features& f : split.test) scores.push_back(scorecard.score(f));
  result.held_out = measure_discrimination(scores, split.test_bad);
  result.ceiling = measure_discrimination(split.test_ceiling_rank, split.test_bad);
  model.training = {options.users, options.seed, result.held_out.auc, result.held_out.ks};
  const std::string problem = check_model(model);
  CAP_ASSERT(problem.empty());  // training builds only models its own loader accepts
  return result;
}

}  // namespace capillary::credit
