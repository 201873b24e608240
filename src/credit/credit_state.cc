#include "credit/credit_state.h"

#include <algorithm>
#include <limits>

#include "core/assert.h"
#include "credit/parse_number.h"

namespace capillary::credit {
namespace {

void add_saturating(std::int64_t& value, std::int64_t amount) noexcept {
  CAP_ASSERT(amount >= 0 && value >= 0);
  if (__builtin_add_overflow(value, amount, &value)) value = std::numeric_limits<std::int64_t>::max();
}

}  // namespace

std::optional<CreditEvent> parse_credit_event(std::string_view text) {
  constexpr std::string_view overdue = "overdue:", assets = "assets:";
  if (text == "repaid") return RepaidOnTime{};
  if (text == "verified") return Verified{};
  if (text == "loan") return LoanTaken{};
  if (text.starts_with(overdue)) {
    std::int64_t days = 0;
    if (parse_number(text.substr(overdue.size()), &days) && days > 0) return WentOverdue{days};
  }
  if (text.starts_with(assets)) {
    const std::string_view amounts = text.substr(assets.size());
    const std::size_t colon = amounts.find(':');
    std::int64_t wallet_fen = 0, fund_fen = 0;
    if (colon != std::string_view::npos && parse_number(amounts.substr(0, colon), &wallet_fen) &&
        parse_number(amounts.substr(colon + 1), &fund_fen) && wallet_fen >= 0 && fund_fen >= 0) {
      return AssetsAdded{wallet_fen, fund_fen};
    }
  }
  return std::nullopt;
}

CreditState::CreditState(const Scorecard& scorecard, const Features& features) noexcept
    : scorecard_(scorecard), features_(features), score_(scorecard.score(features)) {}

std::int32_t CreditState::apply(const CreditEvent& event) noexcept {
  using enum Feature;
  Features& f = features_;
  std::visit(
      [&f](const auto& e) {
        using Event = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<Event, RepaidOnTime>) {
          add_saturating(f[on_time_repayments], 1);
        } else if constexpr (std::is_same_v<Event, WentOverdue>) {
          CAP_ASSERT(e.days > 0);
          add_saturating(f[overdue_count], 1);
          f[overdue_days_max] = std::max(f[overdue_days_max], e.days);
        } else if constexpr (std::is_same_v<Event, AssetsAdded>) {
          add_saturating(f[wallet_balance_fen], e.wallet_fen);
          add_saturating(f[fund_balance_fen], e.fund_fen);
        } else if constexpr (std::is_same_v<Event, Verified>) {
          f[verified] = 1;
        } else {
          static_assert(std::is_same_v<Event, LoanTaken>);
          add_saturating(f[loans_taken], 1);
        }
      },
      event);
  score_ = scorecard_.score(features_);
  return score_;
}

}  // namespace capillary::credit
