#pragma once
// The credit score route (docs/credit.md): GET /v1/credit/users/{id} scores a user from what the
// platform itself holds about them, read on the engine thread, and explains the score.
//
// Features the platform has (credit::Feature):
//   verified                 the user record's real-name flag
//   account_age_days         since the user record was opened
//   details_stable_days      the same: no change of phone number or address is recorded yet
//   wallet_balance_fen       wallet plus red-packet balances, posted
//   active_payment_months    of the last 12 months (30 days each), those with an order or QR
//                            payment from the wallet or red packets
//   monthly_inflow_fen       top-ups, transfers and red packets received in the last 12 months / 12
// Every other feature (loans and repayments, the fund, spending categories and volatility,
// counterparties, family links) takes the model's neutral value: one in the bin whose weight of
// evidence is nearest zero, so data the platform does not have moves the score as little as the
// model allows, neither for nor against the user. Reasons name only features the platform has: a
// neutral value is no evidence, so "few repayments made on time" would be a claim without data.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "auth/auth.h"
#include "credit/scorecard.h"
#include "engine/engine.h"
#include "server/metrics.h"
#include "server/routes.h"

namespace capillary::server {

// The features above that come from the platform's own records.
inline constexpr std::array<credit::Feature, 6> platform_known_features{
    credit::Feature::verified,           credit::Feature::account_age_days,
    credit::Feature::details_stable_days, credit::Feature::wallet_balance_fen,
    credit::Feature::active_payment_months, credit::Feature::monthly_inflow_fen};

// The explanation with the reasons about features the platform has no data for left out.
credit::Explanation known_reasons_only(const credit::Explanation& explanation);

// The neutral value of every feature of `model` (above).
credit::Features neutral_features(const credit::Model& model);

// The user's features from engine state at `now_ns`, the others taken from `neutral`; nothing for
// a user the platform does not know. Reads every ledger transfer once: it runs on the engine
// thread, between batches.
std::optional<credit::Features> platform_features(const engine::State& state, std::uint64_t user,
                                                  std::uint64_t now_ns, const credit::Features& neutral);

class CreditApi {
 public:
  // `model` must be valid (credit::check_model) and outlive the object.
  CreditApi(engine::Engine& engine, const auth::Keyring& keyring, const credit::Model& model,
            Metrics& metrics, Post post_io);
  CreditApi(const CreditApi&) = delete;
  CreditApi& operator=(const CreditApi&) = delete;

  static bool handles(std::string_view target);
  void handle(const Request& request, Respond respond) noexcept;

 private:
  engine::Engine& engine_;
  const auth::Keyring& keyring_;
  const credit::Model& model_;
  const credit::Scorecard scorecard_;
  const credit::Features neutral_;
  Metrics& metrics_;
  Post post_io_;
};

}  // namespace capillary::server
