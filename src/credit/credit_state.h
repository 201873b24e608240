#pragma once
// A user's credit state kept up to date event by event: each event changes the features it touches
// and the score is recomputed (a few integer lookups), so a score is always current without a
// batch rescore.
//
// Monotonicity: an overdue loan only raises overdue counts and days, a repayment only raises the
// on-time count, new assets only raise balances, a verification only sets `verified`. Those
// features are monotonic in every valid model (model_file.h refuses one that is not), so an overdue
// loan never raises the score, and a repayment, new assets or a verification never lower it.

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

#include "credit/features.h"
#include "credit/scorecard.h"

namespace capillary::credit {

struct RepaidOnTime {};                    // an instalment repaid by its due date
struct WentOverdue { std::int64_t days; }; // an instalment overdue for `days` (> 0)
struct AssetsAdded {                       // money that arrived and stayed (>= 0 each)
  std::int64_t wallet_fen;
  std::int64_t fund_fen;
};
struct Verified {};                        // real-name verification passed
struct LoanTaken {};                       // a loan or credit-line draw

using CreditEvent = std::variant<RepaidOnTime, WentOverdue, AssetsAdded, Verified, LoanTaken>;

// Events as words, for the command line and operators' tools.
inline constexpr std::string_view credit_event_forms =
    "repaid, overdue:DAYS, assets:WALLET_FEN:FUND_FEN, verified, loan";
// The event a word names, or nothing when it names none or its numbers are out of range.
std::optional<CreditEvent> parse_credit_event(std::string_view text);

class CreditState {
 public:
  // `scorecard` must outlive the state.
  CreditState(const Scorecard& scorecard, const Features& features) noexcept;

  // Applies the event and returns the new score. Counters saturate instead of overflowing.
  std::int32_t apply(const CreditEvent& event) noexcept;

  const Features& features() const noexcept { return features_; }
  std::int32_t score() const noexcept { return score_; }

 private:
  const Scorecard& scorecard_;
  Features features_;
  std::int32_t score_;
};

}  // namespace capillary::credit
