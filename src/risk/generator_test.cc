#include "risk/generator.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>

namespace capillary::risk {
namespace {

bool same(const Event& a, const Event& b) {
  return a.event_id == b.event_id && a.kind == b.kind && a.channel == b.channel &&
         a.user_id == b.user_id && a.actor_user_id == b.actor_user_id &&
         a.device_id == b.device_id && a.ip == b.ip && a.city_id == b.city_id &&
         a.lat_e4 == b.lat_e4 && a.lon_e4 == b.lon_e4 && a.merchant_id == b.merchant_id &&
         a.payee_id == b.payee_id && a.amount_fen == b.amount_fen &&
         a.timestamp_ns == b.timestamp_ns;
}

TEST(Generator, SameSeedSameStreamOtherSeedOtherStream) {
  const GeneratorOptions options{.seed = 5, .events = 50'000};
  Generator a(options), b(options), c({.seed = 6, .events = 50'000});
  ASSERT_EQ(a.world().history.size(), b.world().history.size());
  ASSERT_EQ(a.world().flagged, b.world().flagged);
  std::size_t differs_from_other_seed = 0;
  for (int i = 0; i < 50'000; ++i) {
    const LabelledEvent x = a.next(), y = b.next(), z = c.next();
    ASSERT_TRUE(same(x.event, y.event)) << "event " << i;
    ASSERT_EQ(x.fraud, y.fraud);
    ASSERT_EQ(x.case_id, y.case_id);
    differs_from_other_seed += !same(x.event, z.event);
  }
  EXPECT_GT(differs_from_other_seed, 45'000u);
}

TEST(Generator, OrderedLabelledAndNoisy) {
  Generator generator({.seed = 9, .events = 200'000});
  const World& world = generator.world();
  EXPECT_FALSE(world.families.empty());
  EXPECT_FALSE(world.flagged.empty());
  EXPECT_FALSE(world.counterparties.empty());
  ASSERT_FALSE(world.history.empty());
  std::array<std::uint64_t, fraud_kinds> by_kind{};
  std::uint64_t family_pay = 0, previous_ns = world.history.back().timestamp_ns;
  for (int i = 0; i < 200'000; ++i) {
    const LabelledEvent e = generator.next();
    ASSERT_GE(e.event.timestamp_ns, previous_ns) << "event " << i;
    previous_ns = e.event.timestamp_ns;
    ASSERT_EQ(e.fraud == FraudKind::none, e.case_id == 0);
    by_kind[static_cast<std::size_t>(e.fraud)] += 1;
    family_pay += e.event.actor_user_id != 0;
  }
  for (std::size_t kind = 0; kind < fraud_kinds; ++kind) {
    EXPECT_GT(by_kind[kind], 50u) << fraud_kind_name(static_cast<FraudKind>(kind));
  }
  // Fraud is a small share, as on a real platform.
  EXPECT_LT(200'000 - by_kind[0], 200'000u / 20);
  EXPECT_GT(family_pay, 500u);
}

}  // namespace
}  // namespace capillary::risk
