// The IRLS fit against a case with a closed-form answer and against a known generating model.

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "credit/logistic.h"
#include "credit/random.h"

namespace capillary::credit {
namespace {

TEST(Logistic, BinaryPredictorMatchesClosedForm) {
  // x = 0: 1 default in 4; x = 1: 3 in 4. The maximum-likelihood fit reproduces both rates
  // exactly: intercept = logit(1/4) = -ln 3, slope = logit(3/4) - logit(1/4) = 2 ln 3.
  const std::vector<double> x{0, 0, 0, 0, 1, 1, 1, 1};
  const std::vector<std::uint8_t> y{1, 0, 0, 0, 1, 1, 1, 0};
  const LogisticFit fit = fit_logistic(x, 1, y);
  ASSERT_TRUE(fit.converged);
  EXPECT_LT(fit.iterations, 10u);
  // The ridge (1e-6 per row) shrinks the slope by about 1e-5 here.
  EXPECT_NEAR(fit.intercept, -std::log(3.0), 1e-4);
  EXPECT_NEAR(fit.slopes[0], 2 * std::log(3.0), 1e-4);
  // Deviance: -2 Σ ln p(observed outcome), six outcomes predicted at 3/4 and two at 1/4.
  EXPECT_NEAR(fit.deviance, -2 * (6 * std::log(0.75) + 2 * std::log(0.25)), 1e-4);
}

TEST(Logistic, RecoversGeneratingCoefficients) {
  const std::uint64_t seed = 20261122;
  Random random(seed);
  constexpr std::size_t rows = 200'000;
  const double intercept = -1.0, slope_a = 2.0, slope_b = -0.5;
  std::vector<double> x;
  std::vector<std::uint8_t> y;
  for (std::size_t r = 0; r < rows; ++r) {
    const double a = random.normal(), b = random.normal();
    x.push_back(a);
    x.push_back(b);
    const double p = 1 / (1 + std::exp(-(intercept + slope_a * a + slope_b * b)));
    y.push_back(random.bernoulli(p) ? 1 : 0);
  }
  const LogisticFit fit = fit_logistic(x, 2, y);
  ASSERT_TRUE(fit.converged) << "seed " << seed;
  // Standard errors at this size are ~0.01; 0.05 is five of them.
  EXPECT_NEAR(fit.intercept, intercept, 0.05) << "seed " << seed;
  EXPECT_NEAR(fit.slopes[0], slope_a, 0.05) << "seed " << seed;
  EXPECT_NEAR(fit.slopes[1], slope_b, 0.05) << "seed " << seed;
}

TEST(Logistic, ConstantColumnStaysSolvable) {
  // A column of zeros carries nothing; the ridge keeps the system solvable and its slope at 0.
  const std::vector<double> x{0, 1, 0, 0, 0, 1, 0, 0};  // rows (0, x) with x in {1, 0, 1, 0}
  const std::vector<std::uint8_t> y{1, 0, 0, 1};
  const LogisticFit fit = fit_logistic(x, 2, y);
  ASSERT_TRUE(fit.converged);
  EXPECT_EQ(fit.slopes[0], 0.0);
}

}  // namespace
}  // namespace capillary::credit
