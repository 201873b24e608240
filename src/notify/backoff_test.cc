// The back-off schedule: doubling up to the cap, jitter inside [d/2, d], delays that never shrink.

#include "notify/backoff.h"

#include <gtest/gtest.h>

#include <random>

namespace capillary::notify {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, CeilingDoublesUpToTheCap) {
  const BackoffPolicy policy{milliseconds(2000), milliseconds(30 * 60 * 1000)};
  milliseconds expected(2000);
  for (std::uint32_t attempts = 1; attempts <= 40; ++attempts) {
    EXPECT_EQ(backoff_ceiling(policy, attempts), std::min(expected, policy.cap)) << attempts;
    if (expected < policy.cap) expected *= 2;
  }
  // The cap is reached after 11 failures (2 s * 2^10 = 2048 s > 1800 s) and holds forever.
  EXPECT_LT(backoff_ceiling(policy, 10), policy.cap);
  EXPECT_EQ(backoff_ceiling(policy, 11), policy.cap);
  EXPECT_EQ(backoff_ceiling(policy, UINT32_MAX), policy.cap);
}

TEST(Backoff, JitterStaysInTheUpperHalfAndCoversIt) {
  const BackoffPolicy policy{milliseconds(100), milliseconds(1000)};
  const std::uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 random(seed);
  for (std::uint32_t attempts = 1; attempts <= 6; ++attempts) {
    const milliseconds ceiling = backoff_ceiling(policy, attempts);
    milliseconds low = ceiling, high{0};
    for (int i = 0; i < 5000; ++i) {
      const milliseconds delay = backoff_delay(policy, attempts, random());
      ASSERT_GE(delay, ceiling / 2);
      ASSERT_LE(delay, ceiling);
      low = std::min(low, delay);
      high = std::max(high, delay);
    }
    // 5000 draws reach within 2% of both ends of the interval.
    EXPECT_LE(low - ceiling / 2, ceiling / 50) << attempts;
    EXPECT_LE(ceiling - high, ceiling / 50) << attempts;
  }
  EXPECT_EQ(backoff_delay(policy, 1, 0), milliseconds(50));
  EXPECT_EQ(backoff_delay(policy, 1, 50), milliseconds(100));
}

TEST(Backoff, SuccessiveDelaysNeverShrinkWhileDoubling) {
  const BackoffPolicy policy{milliseconds(7), milliseconds(5000)};
  const std::uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 random(seed);
  // 7 ms doubles up to the 10th failure (3584 ms); the 11th would be 7168 ms, past the cap.
  constexpr std::uint32_t doubling_attempts = 10;
  ASSERT_EQ(backoff_ceiling(policy, doubling_attempts), milliseconds(7 << 9));
  ASSERT_EQ(backoff_ceiling(policy, doubling_attempts + 1), policy.cap);
  for (int run = 0; run < 1000; ++run) {
    milliseconds previous{0};
    for (std::uint32_t attempts = 1; attempts <= doubling_attempts; ++attempts) {
      const milliseconds delay = backoff_delay(policy, attempts, random());
      ASSERT_GE(delay, previous) << attempts;
      previous = delay;
    }
  }
}

}  // namespace
}  // namespace capillary::notify
