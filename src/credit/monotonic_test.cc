// Property tests over random users of the synthetic population: events move the score only in the
// direction they should, on the trained model, for every user and every event tried.

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "credit/binning.h"
#include "credit/credit_state.h"
#include "credit/population.h"
#include "credit/random.h"
#include "credit/train.h"

namespace capillary::credit {
namespace {

constexpr std::uint64_t users_tried = 3000;
constexpr std::size_t events_per_user = 20;

const Model& trained() {
  static const Model model = [] {
    TrainOptions options;
    options.users = 30'000;
    options.seed = 3;
    return train(options).model;
  }();
  return model;
}

const Scorecard& scorecard() {
  static const Scorecard compiled(trained());
  return compiled;
}

// A random event of each kind, sized from small to far beyond any bin edge.
CreditEvent random_event(Random& random, std::size_t kind) {
  switch (kind) {
    case 0: return RepaidOnTime{};
    case 1: return WentOverdue{1 + static_cast<std::int64_t>(random.next() % 400)};
    case 2: {
      const std::int64_t scale = std::int64_t{1} << (random.next() % 40);
      return AssetsAdded{static_cast<std::int64_t>(random.next() % 100) * scale,
                         static_cast<std::int64_t>(random.next() % 100) * scale};
    }
    case 3: return Verified{};
    default: return LoanTaken{};
  }
}

// Of each event kind: +1 must never lower the score, -1 never raise it, 0 either.
constexpr std::array<int, 5> allowed_direction{+1, -1, +1, +1, 0};

TEST(Monotonic, EventsMoveTheScoreOnlyTheRightWay) {
  const std::uint64_t seed = 0x5eed'c4ed'17;
  Random random(seed);
  std::size_t raised = 0, lowered = 0;
  for (std::uint64_t user = 0; user < users_tried; ++user) {
    CreditState state(scorecard(), generate_user(seed, user).features);
    for (std::size_t e = 0; e < events_per_user; ++e) {
      const std::size_t kind = random.next() % allowed_direction.size();
      const std::int32_t before = state.score();
      const std::int32_t after = state.apply(random_event(random, kind));
      ASSERT_EQ(after, scorecard().score(state.features()));
      if (allowed_direction[kind] > 0) {
        ASSERT_GE(after, before) << "seed " << seed << " user " << user << " event " << e
                                 << " kind " << kind;
      }
      if (allowed_direction[kind] < 0) {
        ASSERT_LE(after, before) << "seed " << seed << " user " << user << " event " << e;
      }
      raised += after > before;
      lowered += after < before;
    }
  }
  // The property is not vacuous: events do move scores, both ways.
  EXPECT_GT(raised, users_tried);
  EXPECT_GT(lowered, users_tried / 10);
}

TEST(Monotonic, RaisingAMonotonicFeatureNeverGoesAgainstIt) {
  // The same property stated on features directly: bump one rising (falling) feature of a random
  // user by a random amount; the score must not fall (rise).
  const std::uint64_t seed = 99;
  Random random(seed);
  for (std::uint64_t user = 0; user < users_tried; ++user) {
    const Features base = generate_user(seed, user).features;
    for (std::size_t i = 0; i < feature_count; ++i) {
      const Monotonic direction = spec(feature_at(i)).monotonic;
      if (direction == Monotonic::free) continue;
      Features more = base;
      more.values[i] += 1 + static_cast<std::int64_t>(random.next() % 1'000'000);
      if (direction == Monotonic::rising) {
        ASSERT_GE(scorecard().score(more), scorecard().score(base))
            << "seed " << seed << " user " << user << " " << spec(feature_at(i)).name;
      } else {
        ASSERT_LE(scorecard().score(more), scorecard().score(base))
            << "seed " << seed << " user " << user << " " << spec(feature_at(i)).name;
      }
    }
  }
}

TEST(Monotonic, OverdueAfterRepaymentsStillCosts) {
  // A hand case: a clean user who goes overdue loses points, and the loss names the reason.
  Features clean = generate_user(1, 0).features;
  clean[Feature::overdue_count] = 0;
  clean[Feature::overdue_days_max] = 0;
  CreditState state(scorecard(), clean);
  const std::int32_t before = state.score();
  const std::int32_t after = state.apply(WentOverdue{90});
  EXPECT_LT(after, before);
  const Explanation explanation = scorecard().explain(state.features());
  bool named = false;
  for (std::size_t i = 0; i < explanation.reason_count; ++i) {
    named |= explanation.reasons[i].feature == Feature::overdue_days_max ||
             explanation.reasons[i].feature == Feature::overdue_count;
  }
  EXPECT_TRUE(named);
}

TEST(Explain, DimensionsAddUpAndReasonsAreSorted) {
  const Model& model = trained();
  for (std::uint64_t user = 0; user < 2000; ++user) {
    const Features features = generate_user(5, user).features;
    const Explanation explanation = scorecard().explain(features);
    ASSERT_EQ(explanation.score, scorecard().score(features));
    std::int64_t raw = explanation.base_points;
    for (const std::int32_t points : explanation.dimension_points) raw += points;
    ASSERT_EQ(explanation.score, std::clamp<std::int64_t>(raw, score_min, score_max));
    std::int32_t worst_unlisted = 0;
    for (std::size_t i = 0; i < feature_count; ++i) {
      const FeatureModel& m = model.features[i];
      const std::int32_t lost = m.best_points() - m.points[bin_of(m.upper, features.values[i])];
      bool listed = false;
      for (std::size_t r = 0; r < explanation.reason_count; ++r) {
        if (explanation.reasons[r].feature == feature_at(i)) {
          listed = true;
          ASSERT_EQ(explanation.reasons[r].points_lost, lost);
        }
      }
      if (!listed) worst_unlisted = std::max(worst_unlisted, lost);
    }
    for (std::size_t r = 0; r < explanation.reason_count; ++r) {
      ASSERT_GT(explanation.reasons[r].points_lost, 0);
      ASSERT_GE(explanation.reasons[r].points_lost, worst_unlisted) << "user " << user;
      if (r > 0) {
        ASSERT_LE(explanation.reasons[r].points_lost, explanation.reasons[r - 1].points_lost);
      }
    }
  }
}

TEST(Events, ParseWords) {
  EXPECT_TRUE(std::holds_alternative<RepaidOnTime>(*parse_credit_event("repaid")));
  EXPECT_TRUE(std::holds_alternative<Verified>(*parse_credit_event("verified")));
  EXPECT_TRUE(std::holds_alternative<LoanTaken>(*parse_credit_event("loan")));
  EXPECT_EQ(std::get<WentOverdue>(*parse_credit_event("overdue:45")).days, 45);
  const AssetsAdded assets = std::get<AssetsAdded>(*parse_credit_event("assets:500000:7"));
  EXPECT_EQ(assets.wallet_fen, 500000);
  EXPECT_EQ(assets.fund_fen, 7);
  for (const char* bad : {"", "repay", "overdue:", "overdue:0", "overdue:-3", "overdue:4x",
                          "assets:5", "assets:-1:0", "assets:1:2:3", "verified "}) {
    EXPECT_FALSE(parse_credit_event(bad).has_value()) << bad;
  }
}

TEST(Events, CountersSaturate) {
  Features rich = generate_user(1, 0).features;
  rich[Feature::wallet_balance_fen] = std::numeric_limits<std::int64_t>::max() - 1;
  CreditState state(scorecard(), rich);
  const std::int32_t before = state.score();
  EXPECT_GE(state.apply(AssetsAdded{1'000'000, 0}), before);
  EXPECT_EQ(state.features()[Feature::wallet_balance_fen], std::numeric_limits<std::int64_t>::max());
}

}  // namespace
}  // namespace capillary::credit
