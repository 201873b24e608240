#include "server/credit_api.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "credit/model_file.h"
#include "engine/state.h"
#include "payments/accounts.h"
#include "payments/command.h"

namespace capillary::server {
namespace {

using credit::Feature;

constexpr std::uint64_t day_ns = 86'400ull * 1'000'000'000;
constexpr std::uint64_t opened_ns = 1'700'000'000ull * 1'000'000'000;
constexpr std::uint64_t user = 42;

credit::Model shipped_model() {
  credit::Model model;
  const Status status = credit::read_model_file(std::string(CAPILLARY_SOURCE_DIR) + "/models/credit-v1.model", &model);
  EXPECT_TRUE(status.is_ok()) << status.message();
  return model;
}

// The bin of `value` among `upper` (binning.h: the first bound at or above the value).
std::size_t bin_of(const credit::FeatureModel& feature, std::int64_t value) {
  return static_cast<std::size_t>(std::ranges::lower_bound(feature.upper, value) - feature.upper.begin());
}

TEST(CreditApi, NeutralValuesSitInTheBinWithWeightOfEvidenceNearestZero) {
  const credit::Model model = shipped_model();
  const credit::Features neutral = neutral_features(model);
  for (std::size_t f = 0; f < credit::feature_count; ++f) {
    const credit::FeatureModel& feature = model.features[f];
    const double chosen = std::abs(feature.woe[bin_of(feature, neutral.values[f])]);
    for (const double woe : feature.woe) EXPECT_LE(chosen, std::abs(woe)) << credit::spec(credit::feature_at(f)).name;
  }
}

TEST(CreditApi, ReasonsKeepOnlyKnownFeaturesInOrder) {
  credit::Explanation explanation;
  explanation.score = 600;
  explanation.reasons = {{{Feature::on_time_repayments, 0, 60},
                          {Feature::account_age_days, 3, 50},
                          {Feature::family_links, 0, 40},
                          {Feature::wallet_balance_fen, 100, 30}}};
  explanation.reason_count = 4;
  const credit::Explanation kept = known_reasons_only(explanation);
  ASSERT_EQ(kept.reason_count, 2u);
  EXPECT_EQ(kept.reasons[0], (credit::Reason{Feature::account_age_days, 3, 50}));
  EXPECT_EQ(kept.reasons[1], (credit::Reason{Feature::wallet_balance_fen, 100, 30}));
  EXPECT_EQ(kept.score, 600);
}

class PlatformFeatures : public ::testing::Test {
 protected:
  payments::Outcome run(payments::Command command) {
    command.id = next_id_++;
    payments::Outcome outcome{};
    now_ += state_.payments.apply({&command, 1}, now_, {&outcome, 1}) + 1;
    return outcome;
  }
  void open_user(bool verified) {
    payments::Command c{};
    c.kind = payments::CommandKind::open_user;
    c.principal = payments::principal(payments::PartyKind::platform, 0);
    c.party = user;
    c.a = verified ? 1 : 0;
    ASSERT_EQ(run(c).result, payments::Result::ok);
  }
  void top_up(std::int64_t amount) {
    payments::Command c{};
    c.kind = payments::CommandKind::top_up;
    c.principal = payments::principal(payments::PartyKind::user, user);
    c.party = user;
    c.amount = amount;
    c.bank.channel = 7;
    c.bank.outcome = payments::BankOutcome::approved;
    c.bank.reference = next_id_;
    ASSERT_EQ(run(c).result, payments::Result::ok);
  }

  engine::State state_;
  std::uint64_t now_ = opened_ns;
  std::uint64_t next_id_ = 1;
  const credit::Features neutral_ = neutral_features(shipped_model());
};

TEST_F(PlatformFeatures, UnknownUserHasNone) {
  EXPECT_FALSE(platform_features(state_, user, now_, neutral_).has_value());
}

TEST_F(PlatformFeatures, ComeFromTheUserRecordAndLedgerOthersStayNeutral) {
  open_user(true);
  top_up(12'000);
  top_up(24'000);
  const std::uint64_t opened = state_.payments.find_user(user)->opened_at;
  const auto features = platform_features(state_, user, opened + 40 * day_ns, neutral_);
  ASSERT_TRUE(features.has_value());
  EXPECT_EQ((*features)[Feature::verified], 1);
  EXPECT_EQ((*features)[Feature::account_age_days], 40);
  EXPECT_EQ((*features)[Feature::details_stable_days], 40);
  EXPECT_EQ((*features)[Feature::wallet_balance_fen], 36'000);
  EXPECT_EQ((*features)[Feature::monthly_inflow_fen], 3'000);  // 36,000 over 12 months
  EXPECT_EQ((*features)[Feature::active_payment_months], 0);
  for (const Feature unknown : {Feature::on_time_repayments, Feature::overdue_count, Feature::loans_taken,
                                Feature::fund_balance_fen, Feature::family_links}) {
    EXPECT_EQ((*features)[unknown], neutral_[unknown]);
  }
  // A year and more later the top-ups no longer count as this year's income.
  const auto later = platform_features(state_, user, opened + 400 * day_ns, neutral_);
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ((*later)[Feature::monthly_inflow_fen], 0);
  EXPECT_EQ((*later)[Feature::wallet_balance_fen], 36'000);
}

}  // namespace
}  // namespace capillary::server
