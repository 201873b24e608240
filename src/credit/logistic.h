#pragma once
// Logistic regression fitted by iteratively reweighted least squares (Newton's method on the
// log-likelihood): P(y = 1 | x) = 1 / (1 + exp(-(b0 + b . x))). Training only; scoring never
// touches floating point.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace capillary::credit {

// Newton steps before giving up. IRLS on a well-posed problem converges quadratically, in well under
// ten steps; hitting this means the data are (nearly) separable.
inline constexpr std::size_t logistic_iterations_max = 50;
// Converged when no coefficient moves more than this in a step.
inline constexpr double logistic_step_tolerance = 1e-10;
// A tiny ridge on the slopes keeps the Newton system solvable when a column is constant or two are
// collinear; at 1e-6 per user it moves no coefficient of a real fit by more than ~1e-6.
inline constexpr double logistic_ridge_per_row = 1e-6;

struct LogisticFit {
  double intercept = 0;
  std::vector<double> slopes;   // one per column of x
  std::size_t iterations = 0;
  bool converged = false;
  double deviance = 0;          // -2 log-likelihood at the fit
};

// `x` is row-major, rows × columns; `y[i]` is 0 or 1. Needs at least one row.
LogisticFit fit_logistic(std::span<const double> x, std::size_t columns,
                         std::span<const std::uint8_t> y);

}  // namespace capillary::credit
