#include "server/credit_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <bitset>
#include <chrono>
#include <cstdlib>
#include <string>
#include <utility>

#include "core/assert.h"
#include "credit/explanation_json.h"
#include "payments/accounts.h"
#include "server/authenticate.h"
#include "server/call.h"

namespace capillary::server {
namespace {

constexpr std::string_view route_prefix = "/v1/credit/users/";

// Behaviour and income look back a year of 30-day months, as the model's features are defined.
constexpr std::uint64_t month_ns = 30ull * 86'400 * 1'000'000'000;
constexpr std::size_t months_looked_back = 12;
constexpr std::uint64_t day_ns = 86'400ull * 1'000'000'000;

std::int64_t posted_balance(const ledger::Ledger& ledger, payments::AccountKind kind, std::uint64_t user) {
  const ledger::Account* account = ledger.find_account(payments::account_id(kind, user));
  return account == nullptr ? 0 : account->credits_posted - account->debits_posted;
}

bool is_payment(std::uint16_t code) {
  return code == static_cast<std::uint16_t>(payments::TransferCode::order_payment) ||
         code == static_cast<std::uint16_t>(payments::TransferCode::qr_payment);
}

// Money that arrived to stay: refunds and returned red packets only give back what was the user's.
bool is_inflow(std::uint16_t code) {
  return code == static_cast<std::uint16_t>(payments::TransferCode::top_up) ||
         code == static_cast<std::uint16_t>(payments::TransferCode::transfer) ||
         code == static_cast<std::uint16_t>(payments::TransferCode::red_packet_claim);
}

}  // namespace

credit::Features neutral_features(const credit::Model& model) {
  credit::Features neutral;
  for (std::size_t f = 0; f < credit::feature_count; ++f) {
    const credit::FeatureModel& feature = model.features[f];
    CAP_ASSERT(!feature.upper.empty() && feature.upper.size() == feature.woe.size());
    std::size_t nearest = 0;
    for (std::size_t bin = 1; bin < feature.woe.size(); ++bin) {
      if (std::abs(feature.woe[bin]) < std::abs(feature.woe[nearest])) nearest = bin;
    }
    // A bin holds the values above the previous bound up to its own; the last is unbounded.
    const bool last = nearest + 1 == feature.upper.size();
    neutral.values[f] = !last ? feature.upper[nearest] : nearest == 0 ? 0 : feature.upper[nearest - 1] + 1;
  }
  return neutral;
}

std::optional<credit::Features> platform_features(const engine::State& state, std::uint64_t user,
                                                  std::uint64_t now_ns, const credit::Features& neutral) {
  using credit::Feature;
  const payments::UserRecord* record = state.payments.find_user(user);
  if (record == nullptr) return std::nullopt;
  const std::uint64_t wallet = payments::account_id(payments::AccountKind::wallet, user);
  const std::uint64_t red_packet = payments::account_id(payments::AccountKind::red_packet, user);
  std::bitset<months_looked_back> active_months;
  std::int64_t inflow_fen = 0;
  for (const ledger::TransferRecord& entry : state.ledger.transfers()) {
    const ledger::Transfer& t = entry.transfer;
    if ((t.flags & (ledger::transfer_pending | ledger::transfer_void_pending)) != 0) continue;
    if (entry.timestamp > now_ns) continue;
    const std::uint64_t month = (now_ns - entry.timestamp) / month_ns;
    if (month >= months_looked_back) continue;
    if ((t.debit_account_id == wallet || t.debit_account_id == red_packet) && is_payment(t.code)) {
      active_months.set(month);
    }
    if ((t.credit_account_id == wallet || t.credit_account_id == red_packet) && is_inflow(t.code)) {
      inflow_fen += t.amount;
    }
  }
  const std::int64_t age_days =
      static_cast<std::int64_t>(now_ns > record->opened_at ? (now_ns - record->opened_at) / day_ns : 0);
  credit::Features features = neutral;
  features[Feature::verified] = record->verified != 0 ? 1 : 0;
  features[Feature::account_age_days] = age_days;
  features[Feature::details_stable_days] = age_days;
  features[Feature::wallet_balance_fen] = posted_balance(state.ledger, payments::AccountKind::wallet, user) +
                                          posted_balance(state.ledger, payments::AccountKind::red_packet, user);
  features[Feature::active_payment_months] = static_cast<std::int64_t>(active_months.count());
  features[Feature::monthly_inflow_fen] = inflow_fen / static_cast<std::int64_t>(months_looked_back);
  CAP_ASSERT(features[Feature::wallet_balance_fen] >= 0 && inflow_fen >= 0);
  return features;
}

credit::Explanation known_reasons_only(const credit::Explanation& explanation) {
  credit::Explanation kept = explanation;
  kept.reason_count = 0;
  for (std::size_t i = 0; i < explanation.reason_count; ++i) {
    const credit::Reason& reason = explanation.reasons[i];
    if (std::ranges::find(platform_known_features, reason.feature) != platform_known_features.end()) {
      kept.reasons[kept.reason_count++] = reason;
    }
  }
  CAP_ASSERT(kept.reason_count <= explanation.reason_count);
  return kept;
}

CreditApi::CreditApi(engine::Engine& engine, const auth::Keyring& keyring, const credit::Model& model,
                     Metrics& metrics, Post post_io)
    : engine_(engine),
      keyring_(keyring),
      model_(model),
      scorecard_(model),
      neutral_(neutral_features(model)),
      metrics_(metrics),
      post_io_(std::move(post_io)) {}

bool CreditApi::handles(std::string_view target) { return target.starts_with(route_prefix); }

void CreditApi::handle(const Request& request, Respond respond) noexcept {
  const Call call(metrics_, Route::payments, std::move(respond));
  call.guarded([&] {
    const std::optional<auth::Principal> principal = authenticate(keyring_, request, call);
    if (!principal) return;
    std::uint64_t user = 0;
    if (request.method != "GET") {
      return call.fail({405, "method_not_allowed", "a credit score is only read (GET)", {}});
    }
    if (!parse_decimal(request.target.substr(route_prefix.size()), &user)) {
      return call.fail({404, "not_found", fmt::format("no route {}", request.target), {}});
    }
    // A user reads only its own score; anyone else's is as absent as an unknown user's.
    const bool allowed = principal->kind == auth::PrincipalKind::platform ||
                         (principal->kind == auth::PrincipalKind::user && principal->id == user);
    const auto now_ns = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                       std::chrono::system_clock::now().time_since_epoch())
                                                       .count());
    const engine::Submit submitted = engine_.submit_read([this, call, user, allowed, now_ns](const engine::State& state) {
      const std::optional<credit::Features> features =
          allowed ? platform_features(state, user, now_ns, neutral_) : std::nullopt;
      return post_later(post_io_, [this, call, user, features] {
        call.guarded([&] {
          if (!features) return call.fail({404, "not_found", fmt::format("no user {} for this caller", user), {}});
          Response response;
          response.body = credit::explanation_json(user, model_, known_reasons_only(scorecard_.explain(*features)));
          call.answer(std::move(response));
        });
      });
    });
    if (submitted != engine::Submit::accepted) {
      call.fail({503, "overloaded", "the engine cannot take a read now; retry after a moment", {}});
    }
  });
}

}  // namespace capillary::server
