#include "credit/credit_state.h"

#include <algorithm>
#include <limits>

#include "core/assert.h"

namespace capillary::credit {
namespace {

void add_saturating(std::int64_t& value, std::int64_t amount) noexcept {
  CAP_ASSERT(amount >= 0 && value >= 0);
  if (__builtin_add_overflow(value, amount, &value)) value = std::numeric_limits<std::int64_t>::max();
}

}  // namespace

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
