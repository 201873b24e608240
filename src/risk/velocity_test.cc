#include "risk/velocity.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>

#include "risk/limits.h"

namespace capillary::risk {
namespace {

constexpr std::uint64_t t0 = 1'000 * ns_per_s;

TEST(Velocity, EventExactlyOneWindowOldIsOut) {
  for (auto [window, length] :
       {std::pair{Window::one_minute, window_1m_ns}, std::pair{Window::one_hour, window_1h_ns},
        std::pair{Window::one_day, window_24h_ns}}) {
    Velocity v;
    v.add(t0, 700);
    v.advance(t0 + length - 1);
    EXPECT_EQ(v.totals(window).count, 1u) << "one nanosecond before the boundary it is in";
    EXPECT_EQ(v.totals(window).sum_fen, 700);
    v.advance(t0 + length);
    EXPECT_EQ(v.totals(window).count, 0u) << "exactly one window length old it is out";
    EXPECT_EQ(v.totals(window).sum_fen, 0);
  }
}

TEST(Velocity, WindowsMoveIndependently) {
  Velocity v;
  v.add(t0, 100);
  v.add(t0 + 30 * ns_per_s, 200);
  v.add(t0 + window_1m_ns, 400);  // the first event leaves the minute window as this one arrives
  EXPECT_EQ(v.totals(Window::one_minute).count, 2u);
  EXPECT_EQ(v.totals(Window::one_minute).sum_fen, 600);
  EXPECT_EQ(v.totals(Window::one_hour).count, 3u);
  EXPECT_EQ(v.totals(Window::one_hour).sum_fen, 700);
  v.advance(t0 + window_1h_ns + 30 * ns_per_s);
  EXPECT_EQ(v.totals(Window::one_hour).count, 1u);
  EXPECT_EQ(v.totals(Window::one_hour).sum_fen, 400);
  EXPECT_EQ(v.totals(Window::one_day).count, 3u);
  v.advance(t0 + window_1m_ns + window_24h_ns);
  EXPECT_EQ(v.totals(Window::one_day).count, 0u);
  EXPECT_EQ(v.entries(), 0u) << "the ring keeps only the last 24 hours";
}

// Against a brute-force list: exact while under the entry cap, never below the truth above it,
// and the ring never holds more than the cap.
TEST(Velocity, MatchesBruteForceAndNeverUndercounts) {
  const std::uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 random(seed);
  for (const bool burst : {false, true}) {
    Velocity v;
    std::deque<std::pair<std::uint64_t, std::int64_t>> all;
    std::uint64_t now = t0;
    for (int i = 0; i < (burst ? 3'000 : 10'000); ++i) {
      now += burst ? random() % (2 * ns_per_s) : random() % (10 * 60 * ns_per_s);
      const std::int64_t amount = static_cast<std::int64_t>(random() % 10'000);
      v.add(now, amount);
      all.emplace_back(now, amount);
      ASSERT_LE(v.entries(), velocity_entries_max);
      for (auto [window, length] :
           {std::pair{Window::one_minute, window_1m_ns}, std::pair{Window::one_hour, window_1h_ns},
            std::pair{Window::one_day, window_24h_ns}}) {
        std::uint32_t count = 0;
        std::int64_t sum = 0;
        for (auto it = all.rbegin(); it != all.rend() && it->first + length > now; ++it) {
          ++count;
          sum += it->second;
        }
        if (v.entries() < velocity_entries_max) {
          ASSERT_EQ(v.totals(window).count, count) << "event " << i;
          ASSERT_EQ(v.totals(window).sum_fen, sum) << "event " << i;
        } else {
          ASSERT_GE(v.totals(window).count, count) << "event " << i;
          ASSERT_GE(v.totals(window).sum_fen, sum) << "event " << i;
        }
      }
      while (!all.empty() && all.front().first + window_24h_ns <= now) all.pop_front();
    }
  }
}

}  // namespace
}  // namespace capillary::risk
