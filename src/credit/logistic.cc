#include "credit/logistic.h"

#include <algorithm>
#include <cmath>

#include "core/assert.h"

namespace capillary::credit {
namespace {

// Solves a·s = b in place for a symmetric positive definite `a` (n × n) by Cholesky; returns s.
std::vector<double> solve_spd(std::vector<double> a, std::vector<double> b, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) {
    double diagonal = a[j * n + j];
    for (std::size_t k = 0; k < j; ++k) diagonal -= a[j * n + k] * a[j * n + k];
    CAP_ASSERT(diagonal > 0);  // the ridge keeps the Hessian positive definite
    a[j * n + j] = std::sqrt(diagonal);
    for (std::size_t i = j + 1; i < n; ++i) {
      double sum = a[i * n + j];
      for (std::size_t k = 0; k < j; ++k) sum -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = sum / a[j * n + j];
    }
  }
  for (std::size_t i = 0; i < n; ++i) {  // L z = b
    for (std::size_t k = 0; k < i; ++k) b[i] -= a[i * n + k] * b[k];
    b[i] /= a[i * n + i];
  }
  for (std::size_t i = n; i-- > 0;) {  // L^T s = z
    for (std::size_t k = i + 1; k < n; ++k) b[i] -= a[k * n + i] * b[k];
    b[i] /= a[i * n + i];
  }
  return b;
}

}  // namespace

LogisticFit fit_logistic(std::span<const double> x, std::size_t columns,
                         std::span<const std::uint8_t> y) {
  const std::size_t rows = y.size();
  CAP_ASSERT(rows > 0 && x.size() == rows * columns);
  const std::size_t n = columns + 1;  // coefficient 0 is the intercept
  std::vector<double> beta(n, 0.0);
  const double ridge = logistic_ridge_per_row * static_cast<double>(rows);
  LogisticFit fit;
  std::vector<double> gradient(n), hessian(n * n), row(n);
  while (fit.iterations < logistic_iterations_max && !fit.converged) {
    std::fill(gradient.begin(), gradient.end(), 0.0);
    std::fill(hessian.begin(), hessian.end(), 0.0);
    fit.deviance = 0;
    for (std::size_t r = 0; r < rows; ++r) {
      row[0] = 1.0;
      std::copy_n(x.begin() + static_cast<std::ptrdiff_t>(r * columns), columns, row.begin() + 1);
      double eta = 0;
      for (std::size_t j = 0; j < n; ++j) eta += beta[j] * row[j];
      const double p = 1.0 / (1.0 + std::exp(-eta));
      const double weight = std::max(p * (1.0 - p), 1e-12);
      const double residual = static_cast<double>(y[r]) - p;
      for (std::size_t j = 0; j < n; ++j) {
        gradient[j] += residual * row[j];
        for (std::size_t k = 0; k <= j; ++k) hessian[j * n + k] += weight * row[j] * row[k];
      }
      // log(1 + e^eta) - y·eta, computed without overflow for large |eta|.
      const double softplus = eta > 0 ? eta + std::log1p(std::exp(-eta)) : std::log1p(std::exp(eta));
      fit.deviance += 2.0 * (softplus - static_cast<double>(y[r]) * eta);
    }
    for (std::size_t j = 1; j < n; ++j) {
      hessian[j * n + j] += ridge;
      gradient[j] -= ridge * beta[j];
    }
    for (std::size_t j = 0; j < n; ++j) {
      for (std::size_t k = j + 1; k < n; ++k) hessian[j * n + k] = hessian[k * n + j];
    }
    const std::vector<double> step = solve_spd(hessian, gradient, n);
    double largest_step = 0;
    for (std::size_t j = 0; j < n; ++j) {
      beta[j] += step[j];
      largest_step = std::max(largest_step, std::abs(step[j]));
    }
    ++fit.iterations;
    fit.converged = largest_step < logistic_step_tolerance;
  }
  fit.intercept = beta[0];
  fit.slopes.assign(beta.begin() + 1, beta.end());
  return fit;
}

}  // namespace capillary::credit
