// What the clock makes due — normal redemptions paid out, floats repaid, pending subscriptions
// confirmed in the aggregate — and checkout from fund shares, which the payments module drives.

#include <algorithm>
#include <cstring>

#include "core/assert.h"
#include "core/checksum.h"
#include "fund/accounts.h"
#include "fund/calendar.h"
#include "fund/funds.h"
#include "fund/limits.h"
#include "payments/limits.h"

namespace capillary::fund {

using payments::Chain;
using payments::Result;
using payments::TransferCode;

namespace {

void commit_settlement(Chain& chain) {
  // Settlements move money the fund already holds for them (custody = outstanding + owed,
  // fund_redemptions = what is queued): a refusal is a broken invariant.
  const Result r = chain.commit();
  CAP_ASSERT(r == Result::ok);
}

}  // namespace

void Funds::advance(Chain& chain) noexcept {
  const std::uint64_t today = payments::business_day(chain.now());
  for (std::size_t paid = 0; paid < redemption_payouts_per_advance_max && !redemptions_.empty() &&
                             redemptions_.front().pay_day <= today;
       ++paid) {
    const Redemption redemption = redemptions_.front();
    chain.leg(redemptions_account(redemption.fund), wallet_account(redemption.user),
              redemption.amount, TransferCode::fund_redeem, redemption.fund);
    commit_settlement(chain);
    redemptions_.pop_front();
    redemptions_hash_ -= checksum(&redemption, sizeof(Redemption));
    Fund& fund = *find(redemption.fund);
    FundRecord next = fund.record;
    next.redemptions_due -= redemption.amount;
    CAP_ASSERT(next.redemptions_due >= 0);
    put_fund(fund, next);
  }
  for (auto& [id, fund] : funds_) {
    FundRecord next = fund.record;
    if (next.pending_total > 0 && next.pending_day <= today) {
      confirm_legs(next, chain);
      commit_settlement(chain);
      confirm_done(next);
    }
    if (next.float_owed > 0 && next.float_due_day <= today) {
      chain.leg(custody_account(id), float_account(id), next.float_owed,
                TransferCode::fund_float_settle, next.float_due_day);
      commit_settlement(chain);
      next.float_owed = 0;
      next.float_due_day = 0;
    }
    if (std::memcmp(&next, &fund.record, sizeof(FundRecord)) != 0) put_fund(fund, next);
  }
}

std::optional<std::uint64_t> Funds::next_deadline() const noexcept {
  std::optional<std::uint64_t> day;
  const auto consider = [&day](std::uint64_t candidate) {
    if (candidate != 0) day = day ? std::min(*day, candidate) : candidate;
  };
  if (!redemptions_.empty()) consider(redemptions_.front().pay_day);
  for (const auto& [id, fund] : funds_) {
    if (fund.record.pending_total > 0) consider(fund.record.pending_day);
    if (fund.record.float_owed > 0) consider(fund.record.float_due_day);
  }
  if (!day) return std::nullopt;
  return day_start_ns(*day);
}

Result Funds::checkout_legs(std::uint64_t fund_id, std::uint64_t user, std::int64_t amount,
                            std::uint64_t credit_account, std::uint64_t user_data,
                            Chain& chain) const noexcept {
  const Fund* fund = find(fund_id);
  if (fund == nullptr) return Result::fund_not_found;
  if (amount <= 0) return Result::amount_must_be_positive;
  const FundRecord& record = fund->record;
  const Touch touched = touch(*fund, user, record.pending_total > 0 ? record.pending_day : 0);
  if (!touched.slot || touched.holder.confirmed < amount) return Result::fund_holding_insufficient;
  const std::uint64_t today = payments::business_day(chain.now());
  const std::int64_t used = touched.holder.instant_day == today ? touched.holder.instant_used : 0;
  if (amount > instant_redeem_fen_per_day_max - used) return Result::fund_instant_limit_exceeded;
  income_legs(record, touched.income, user_data, chain);
  chain.leg(confirmed_account(fund_id), issued_account(fund_id), amount,
            TransferCode::fund_checkout, user_data, payments::ledger_fund_shares);
  chain.leg(float_account(fund_id), credit_account, amount, TransferCode::fund_checkout, user_data);
  return Result::ok;
}

void Funds::checkout_done(std::uint64_t fund_id, std::uint64_t user, std::int64_t amount,
                          std::uint64_t now) noexcept {
  Fund& fund = *find(fund_id);
  FundRecord next = fund.record;
  Touch touched = touch(fund, user, next.pending_total > 0 ? next.pending_day : 0);
  CAP_ASSERT(touched.slot.has_value());
  Holder& holder = touched.holder;
  const std::uint64_t today = payments::business_day(now);
  const std::uint32_t used = holder.instant_day == today ? holder.instant_used : 0;
  CAP_ASSERT(amount <= instant_redeem_fen_per_day_max - std::int64_t{used});
  take_confirmed(next, holder, amount);
  holder.instant_day = static_cast<std::uint32_t>(today);
  holder.instant_used = used + static_cast<std::uint32_t>(amount);
  next.float_owed += amount;
  next.float_due_day =
      std::max(next.float_due_day, static_cast<std::uint32_t>(next_business_day(today)));
  finish_touch(fund, next, user, touched);
  put_fund(fund, next);
}

Result Funds::refund_legs(std::uint64_t fund_id, std::uint64_t user, std::int64_t amount,
                          std::uint64_t debit_account, std::uint64_t user_data,
                          Chain& chain) const noexcept {
  const Fund* fund = find(fund_id);
  if (fund == nullptr) return Result::fund_not_found;
  if (amount <= 0) return Result::amount_must_be_positive;
  const FundRecord& record = fund->record;
  const Touch touched = touch(*fund, user, record.pending_total > 0 ? record.pending_day : 0);
  income_legs(record, touched.income, user_data, chain);
  chain.leg(debit_account, custody_account(fund_id), amount, TransferCode::fund_checkout_refund,
            user_data);
  chain.leg(issued_account(fund_id), confirmed_account(fund_id), amount,
            TransferCode::fund_checkout_refund, user_data, payments::ledger_fund_shares);
  return Result::ok;
}

// The refunded shares are old ones: they were confirmed before the checkout spent them.
void Funds::refund_done(std::uint64_t fund_id, std::uint64_t user, std::int64_t amount,
                        std::uint64_t /*now: a refund does not depend on the day*/) noexcept {
  Fund& fund = *find(fund_id);
  FundRecord next = fund.record;
  Touch touched = touch(fund, user, next.pending_total > 0 ? next.pending_day : 0);
  touched.holder.confirmed += amount;
  next.confirmed_total += amount;
  finish_touch(fund, next, user, touched);
  put_fund(fund, next);
}

}  // namespace capillary::fund
