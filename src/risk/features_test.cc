#include "risk/features.h"

#include <gtest/gtest.h>

#include "risk/geo.h"

namespace capillary::risk {
namespace {

constexpr std::uint64_t t0 = 1'767'225'600ull * ns_per_s;
constexpr std::uint64_t minute = 60 * ns_per_s;
constexpr std::uint32_t beijing = 0, hangzhou = 1, tianjin = 10;

Event at_city(std::uint64_t user, std::uint32_t city, std::uint64_t when) {
  Event e;
  e.kind = EventKind::login;
  e.user_id = user;
  e.device_id = 100 + user;
  e.ip = 200 + user;
  e.city_id = city;
  e.lat_e4 = cities()[city].lat_e4;
  e.lon_e4 = cities()[city].lon_e4;
  e.timestamp_ns = when;
  return e;
}

// Observes and, like an allowed decision, learns.
FeatureVector pass(FeatureStore& store, const Event& e) {
  FeatureVector f;
  store.observe(e, e.timestamp_ns, f);
  store.learn(e, e.timestamp_ns);
  return f;
}

TEST(Features, SeedCaseBeijingAndHangzhouAtOnceIsImpossibleTravel) {
  FeatureStore store;
  pass(store, at_city(1, beijing, t0));
  const FeatureVector f = pass(store, at_city(1, hangzhou, t0 + 5 * minute));
  EXPECT_GT(f[Feature::travel_km], 1000);
  EXPECT_EQ(f[Feature::impossible_travel], 1);
  EXPECT_EQ(f[Feature::family_travel], 0);
}

TEST(Features, LinkedFamilyMembersOnOneAccountAreNotImpossibleTravel) {
  FeatureStore store;
  store.link_family(1, 77);
  store.link_family(2, 77);
  pass(store, at_city(1, beijing, t0));
  Event child = at_city(2, hangzhou, t0 + 5 * minute);
  child.kind = EventKind::payment;
  child.user_id = 1;  // pays from the parent's account
  child.actor_user_id = 2;
  const FeatureVector f = pass(store, child);
  EXPECT_EQ(f[Feature::impossible_travel], 0);
  EXPECT_EQ(f[Feature::family_travel], 1);
  EXPECT_EQ(f[Feature::family_pay], 1);
  // And back: the parent again in Beijing minutes after the child's payment.
  const FeatureVector back = pass(store, at_city(1, beijing, t0 + 8 * minute));
  EXPECT_EQ(back[Feature::impossible_travel], 0);
  EXPECT_EQ(back[Feature::family_travel], 1);
}

TEST(Features, UnlinkedOrSeparateFamiliesStayImpossibleTravel) {
  FeatureStore store;
  store.link_family(1, 77);
  store.link_family(2, 78);  // another family
  pass(store, at_city(1, beijing, t0));
  Event other = at_city(2, hangzhou, t0 + 5 * minute);
  other.user_id = 1;
  other.actor_user_id = 2;
  EXPECT_EQ(pass(store, other)[Feature::impossible_travel], 1);
  store.link_family(3, 0);
  Event stranger = at_city(3, beijing, t0 + 6 * minute);
  stranger.user_id = 1;
  stranger.actor_user_id = 3;
  EXPECT_EQ(pass(store, stranger)[Feature::impossible_travel], 1);
}

TEST(Features, PlausibleTravelAndNearbyCitiesAreNot) {
  FeatureStore store;
  pass(store, at_city(1, beijing, t0));
  // Tianjin is ~110 km away: an hour later is a drive.
  const FeatureVector near = pass(store, at_city(1, tianjin, t0 + 60 * minute));
  EXPECT_EQ(near[Feature::impossible_travel], 0);
  // Hangzhou three hours after Tianjin: a flight, not impossible.
  const FeatureVector flight = pass(store, at_city(1, hangzhou, t0 + 240 * minute));
  EXPECT_EQ(flight[Feature::impossible_travel], 0);
  EXPECT_LE(flight[Feature::travel_speed_kmh], travel_speed_kmh_max);
}

TEST(Features, DeviceAndCityNoveltyAndAge) {
  FeatureStore store;
  const FeatureVector first = pass(store, at_city(1, beijing, t0));
  EXPECT_EQ(first[Feature::device_new], 1);
  EXPECT_EQ(first[Feature::city_new], 1);
  const FeatureVector later = pass(store, at_city(1, beijing, t0 + 90 * minute));
  EXPECT_EQ(later[Feature::device_new], 0);
  EXPECT_EQ(later[Feature::device_age_min], 90);
  EXPECT_EQ(later[Feature::city_age_min], 90);
}

TEST(Features, ObservingWithoutLearningKeepsHabitsUnchanged) {
  FeatureStore store;
  pass(store, at_city(1, beijing, t0));
  Event attacker = at_city(1, hangzhou, t0 + 5 * minute);
  attacker.device_id = 999;
  FeatureVector f;
  store.observe(attacker, attacker.timestamp_ns, f);  // denied: never learned
  EXPECT_EQ(f[Feature::device_new], 1);
  store.observe(attacker, attacker.timestamp_ns + ns_per_s, f);
  EXPECT_EQ(f[Feature::device_new], 1) << "a denied device stays new";
  EXPECT_EQ(f[Feature::user_count_1m], 2) << "but every attempt counts in velocity";
}

TEST(Features, AmountAgainstOwnHistoryInIntegers) {
  FeatureStore store;
  Event e = at_city(1, beijing, t0);
  e.kind = EventKind::payment;
  e.merchant_id = 5;
  for (std::int64_t amount : {100, 200, 400}) {
    e.amount_fen = amount;
    e.timestamp_ns += minute;
    pass(store, e);
  }
  e.amount_fen = 1000;
  e.timestamp_ns += minute;
  const FeatureVector f = pass(store, e);
  EXPECT_EQ(f[Feature::user_history_count], 3);
  EXPECT_EQ(f[Feature::user_amount_mean], 233) << "700 / 3, floored";
  EXPECT_EQ(f[Feature::user_amount_max], 400);
  EXPECT_EQ(f[Feature::amount_over_max], 1);
  EXPECT_EQ(f[Feature::amount_to_mean_pct], 429) << "1000 * 100 / 233, floored";
}

TEST(Features, PayeeNoveltyAndOneHopFromFlagged) {
  FeatureStore store;
  store.flag_account(50, true);
  store.link_counterparties(60, 50);  // 60 once dealt with flagged 50
  Event e = at_city(1, beijing, t0);
  e.kind = EventKind::transfer;
  e.amount_fen = 10'000;
  e.payee_id = 60;
  FeatureVector f = pass(store, e);
  EXPECT_EQ(f[Feature::payee_new], 1);
  EXPECT_EQ(f[Feature::payee_flagged], 0);
  EXPECT_EQ(f[Feature::payee_near_flagged], 1);
  e.timestamp_ns += minute;
  f = pass(store, e);
  EXPECT_EQ(f[Feature::payee_new], 0);
  e.payee_id = 61;  // no link to anyone flagged
  e.timestamp_ns += minute;
  f = pass(store, e);
  EXPECT_EQ(f[Feature::payee_near_flagged], 0);
  e.payee_id = 50;
  e.timestamp_ns += minute;
  f = pass(store, e);
  EXPECT_EQ(f[Feature::payee_flagged], 1);
}

TEST(Features, DistinctAccountsPerDeviceOverTheLastHour) {
  FeatureStore store;
  for (std::uint64_t user = 1; user <= 3; ++user) {
    Event e = at_city(user, beijing, t0 + user * ns_per_s);
    e.device_id = 7;
    pass(store, e);
  }
  Event e = at_city(4, beijing, t0 + window_1h_ns + ns_per_s);
  e.device_id = 7;
  // User 1 was seen exactly one hour before this event: out, like every window.
  EXPECT_EQ(pass(store, e)[Feature::device_users_1h], 3);
}

TEST(Features, VelocityPerKeyAndMerchantRisk) {
  FeatureStore store;
  store.set_merchant_risk(9, 2);
  Event e = at_city(1, beijing, t0);
  e.kind = EventKind::payment;
  e.merchant_id = 9;
  e.amount_fen = 500;
  pass(store, e);
  e.user_id = 2;
  e.ip = 202;
  e.timestamp_ns += window_1m_ns;
  const FeatureVector f = pass(store, e);
  EXPECT_EQ(f[Feature::merchant_risk], 2);
  EXPECT_EQ(f[Feature::merchant_count_1m], 1);
  EXPECT_EQ(f[Feature::merchant_count_1h], 2);
  EXPECT_EQ(f[Feature::merchant_sum_1h], 1000);
  EXPECT_EQ(f[Feature::ip_count_1h], 1) << "each user has its own IP here";
  EXPECT_EQ(f[Feature::user_count_24h], 1);
}

}  // namespace
}  // namespace capillary::risk
