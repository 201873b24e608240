// Quantile binning, monotonic merging and weights of evidence on hand-built data.

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "credit/binning.h"
#include "credit/woe.h"

namespace capillary::credit {
namespace {

Bins make_bins(std::vector<std::uint64_t> good, std::vector<std::uint64_t> bad) {
  Bins bins;
  for (std::size_t i = 0; i < good.size(); ++i) {
    bins.upper.push_back(i + 1 == good.size() ? bin_upper_unbounded : static_cast<std::int64_t>(10 * (i + 1)));
  }
  bins.good = std::move(good);
  bins.bad = std::move(bad);
  return bins;
}

TEST(Binning, QuantileEdgesSplitEvenly) {
  std::vector<std::int64_t> values;
  for (std::int64_t v = 1; v <= 100; ++v) values.push_back(v);
  std::vector<std::uint8_t> bad(100, 0);
  for (std::size_t i = 0; i < 100; i += 5) bad[i] = 1;  // values 1, 6, 11, ...: 5 per quarter
  const Bins bins = quantile_bins(values, bad, 4, 1);
  EXPECT_EQ(bins.upper, (std::vector<std::int64_t>{25, 50, 75, bin_upper_unbounded}));
  EXPECT_EQ(bins.good, (std::vector<std::uint64_t>{20, 20, 20, 20}));
  EXPECT_EQ(bins.bad, (std::vector<std::uint64_t>{5, 5, 5, 5}));
}

TEST(Binning, TiedValuesNeverStraddleABoundary) {
  // 60 zeros then 40 distinct values: the zeros fill the first bins' quantiles, so edges repeat.
  std::vector<std::int64_t> values(60, 0);
  for (std::int64_t v = 1; v <= 40; ++v) values.push_back(v);
  const std::vector<std::uint8_t> bad(values.size(), 0);
  const Bins bins = quantile_bins(values, bad, 5, 1);
  EXPECT_EQ(bins.upper, (std::vector<std::int64_t>{0, 20, bin_upper_unbounded}));
  EXPECT_EQ(bins.good, (std::vector<std::uint64_t>{60, 20, 20}));
}

TEST(Binning, ConstantFeatureHasOneBin) {
  const std::vector<std::int64_t> values(50, 7);
  const std::vector<std::uint8_t> bad(50, 1);
  const Bins bins = quantile_bins(values, bad, bins_max, 1);
  EXPECT_EQ(bins.upper, (std::vector<std::int64_t>{bin_upper_unbounded}));
  EXPECT_EQ(bins.bad, (std::vector<std::uint64_t>{50}));
}

TEST(Binning, UndersizedBinMergesIntoSmallerNeighbour) {
  // 40 users at 1, 10 at 2, 50 at 3: quarter edges land on 1, 2 and 3 (the maximum, so no edge),
  // which leaves a 10-user bin between a 40-user and a 50-user one.
  std::vector<std::int64_t> values;
  for (auto [value, count] : {std::pair{1, 40}, {2, 10}, {3, 50}}) {
    values.insert(values.end(), static_cast<std::size_t>(count), value);
  }
  const std::vector<std::uint8_t> bad(values.size(), 0);
  Bins bins = quantile_bins(values, bad, 4, 1);
  ASSERT_EQ(bins.upper, (std::vector<std::int64_t>{1, 2, bin_upper_unbounded}));
  EXPECT_EQ(bins.good, (std::vector<std::uint64_t>{40, 10, 50}));
  // With 15 users a bin at least, the 10 join the smaller neighbour: the 40 before them.
  bins = quantile_bins(values, bad, 4, 15);
  EXPECT_EQ(bins.upper, (std::vector<std::int64_t>{2, bin_upper_unbounded}));
  EXPECT_EQ(bins.good, (std::vector<std::uint64_t>{50, 50}));
  // With 55, one bin is left.
  bins = quantile_bins(values, bad, 4, 55);
  EXPECT_EQ(bins.upper, (std::vector<std::int64_t>{bin_upper_unbounded}));
}

TEST(Binning, BinOfIsInclusiveOfUpperBounds) {
  const std::vector<std::int64_t> upper{0, 10, bin_upper_unbounded};
  EXPECT_EQ(bin_of(upper, -5), 0u);
  EXPECT_EQ(bin_of(upper, 0), 0u);
  EXPECT_EQ(bin_of(upper, 1), 1u);
  EXPECT_EQ(bin_of(upper, 10), 1u);
  EXPECT_EQ(bin_of(upper, 11), 2u);
  EXPECT_EQ(bin_of(upper, bin_upper_unbounded), 2u);
}

TEST(MonotonicMerge, PoolsAdjacentViolators) {
  // Good rates 90%, 70%, 80%, 60% rising with the value would need the odds to rise: they fall.
  Bins falling_data = make_bins({90, 70, 80, 60}, {10, 30, 20, 40});
  Bins rising = falling_data;
  merge_monotonic(rising, Monotonic::rising);
  EXPECT_EQ(rising.good, (std::vector<std::uint64_t>{300}));  // everything pools into one bin
  EXPECT_EQ(rising.upper, (std::vector<std::int64_t>{bin_upper_unbounded}));

  Bins falling = falling_data;
  merge_monotonic(falling, Monotonic::falling);
  // Only the 70% -> 80% step goes the wrong way: those two merge into 150 good / 50 bad.
  EXPECT_EQ(falling.good, (std::vector<std::uint64_t>{90, 150, 60}));
  EXPECT_EQ(falling.bad, (std::vector<std::uint64_t>{10, 50, 40}));
  EXPECT_EQ(falling.upper, (std::vector<std::int64_t>{10, 30, bin_upper_unbounded}));

  Bins free = falling_data;
  merge_monotonic(free, Monotonic::free);
  EXPECT_EQ(free, falling_data);
}

TEST(MonotonicMerge, MergedViolationCanCascadeBackwards) {
  // Rising: 10%, 60%, 70%, then 10% again: merging the last two gives 40%, below 60%, so that
  // merges too (140 good of 300); the 10% bin stays below it and keeps its place.
  Bins bins = make_bins({10, 60, 70, 10}, {90, 40, 30, 90});
  merge_monotonic(bins, Monotonic::rising);
  EXPECT_EQ(bins.good, (std::vector<std::uint64_t>{10, 140}));
  EXPECT_EQ(bins.bad, (std::vector<std::uint64_t>{90, 160}));
  EXPECT_EQ(bins.upper, (std::vector<std::int64_t>{10, bin_upper_unbounded}));
}

TEST(WeightsOfEvidence, MatchesHandComputation) {
  const Bins bins = make_bins({30, 50, 20}, {10, 5, 0});
  const std::vector<double> woe = weights_of_evidence(bins);
  // Smoothed totals: good 101.5, bad 16.5.
  const double good_total = 101.5, bad_total = 16.5;
  ASSERT_EQ(woe.size(), 3u);
  EXPECT_NEAR(woe[0], std::log((30.5 / good_total) / (10.5 / bad_total)), 1e-12);
  EXPECT_NEAR(woe[1], std::log((50.5 / good_total) / (5.5 / bad_total)), 1e-12);
  EXPECT_NEAR(woe[2], std::log((20.5 / good_total) / (0.5 / bad_total)), 1e-12);
  EXPECT_LT(woe[0], 0);  // more bad than the population: negative evidence
  EXPECT_GT(woe[2], woe[1]);
}

TEST(WeightsOfEvidence, FollowMergedDirection) {
  Bins bins = make_bins({5, 40, 41, 300, 290, 900}, {5, 20, 19, 30, 31, 10});
  merge_monotonic(bins, Monotonic::rising);
  const std::vector<double> woe = weights_of_evidence(bins);
  for (std::size_t i = 1; i < woe.size(); ++i) EXPECT_GE(woe[i], woe[i - 1]) << "bin " << i;
}

}  // namespace
}  // namespace capillary::credit
