// Dispatch, fund creation, subscriptions, redemptions and the float; how a command touches a
// holder. Income runs live in income_run.cc, clock-driven work and checkout in settlement.cc,
// reads, hashing, checkpoints and invariants in funds_state.cc.

#include "fund/funds.h"

#include <algorithm>

#include "core/assert.h"
#include "core/checksum.h"
#include "fund/accounts.h"
#include "fund/calendar.h"
#include "fund/holder_income.h"
#include "fund/limits.h"
#include "payments/limits.h"

namespace capillary::fund {

using payments::Chain;
using payments::Command;
using payments::CommandKind;
using payments::Outcome;
using payments::outcome;
using payments::Result;
using payments::TransferCode;

namespace {

constexpr std::uint16_t never_overdrawn = ledger::account_debits_must_not_exceed_credits;

Result amount_check(std::int64_t amount) {
  if (amount <= 0) return Result::amount_must_be_positive;
  if (amount > payments::amount_max) return Result::amount_too_large;
  return Result::ok;
}

std::uint32_t day32(std::uint64_t day) {
  CAP_ASSERT(day <= UINT32_MAX);
  return static_cast<std::uint32_t>(day);
}

}  // namespace

Outcome Funds::apply(const Command& command, Chain& chain,
                     const payments::InstitutionRecord* institution) noexcept {
  switch (command.kind) {
    case CommandKind::create_fund:
      return create_fund(command, chain, institution);
    case CommandKind::fund_subscribe:
      return subscribe(command, chain);
    case CommandKind::fund_redeem:
      return redeem(command, chain);
    case CommandKind::fund_declare_income:
      return declare_income(command, chain);
    case CommandKind::fund_income_step:
      return income_step(command, chain);
    case CommandKind::fund_deposit_float:
      return deposit_float(command, chain);
    default:
      return outcome(Result::invalid_command);
  }
}

Funds::Fund* Funds::find(std::uint64_t fund) noexcept {
  const auto it = funds_.find(fund);
  return it == funds_.end() ? nullptr : &it->second;
}

const Funds::Fund* Funds::find(std::uint64_t fund) const noexcept {
  const auto it = funds_.find(fund);
  return it == funds_.end() ? nullptr : &it->second;
}

void Funds::put_fund(Fund& fund, const FundRecord& record) noexcept {
  funds_hash_ -= checksum(&fund.record, sizeof(FundRecord));
  fund.record = record;
  funds_hash_ += checksum(&fund.record, sizeof(FundRecord));
}

// Only a fund company may run a fund. Its seven accounts open together; its clearing account is
// the institution's own, opened with the institution.
Outcome Funds::create_fund(const Command& command, Chain& chain,
                           const payments::InstitutionRecord* institution) noexcept {
  if (institution == nullptr || institution->kind != payments::InstitutionKind::fund_company) {
    return outcome(Result::forbidden);
  }
  const std::uint64_t id = command.target;
  if (id == 0) return outcome(Result::id_must_not_be_zero);
  if (id > payments::party_id_max) return outcome(Result::invalid_command);
  if (find(id) != nullptr) return outcome(Result::fund_exists);
  using payments::account_spec;
  using payments::ledger_cny;
  using payments::ledger_fund_shares;
  const std::uint64_t owner = institution->id;
  const ledger::AccountSpec accounts[7] = {
      account_spec(AccountKind::fund_custody, id, owner, never_overdrawn, ledger_cny),
      account_spec(AccountKind::fund_float, id, owner, never_overdrawn, ledger_cny),
      account_spec(AccountKind::fund_rounding, id, owner, never_overdrawn, ledger_cny),
      account_spec(AccountKind::fund_redemptions, id, owner, never_overdrawn, ledger_cny),
      account_spec(AccountKind::fund_shares_issued, id, owner, 0, ledger_fund_shares),
      account_spec(AccountKind::fund_shares_confirmed, id, owner, never_overdrawn,
                   ledger_fund_shares),
      account_spec(AccountKind::fund_shares_pending, id, owner, never_overdrawn,
                   ledger_fund_shares)};
  if (Result r = chain.open_accounts(accounts); r != Result::ok) return outcome(r);
  Fund& fund = funds_[id];
  FundRecord record{};
  record.id = id;
  record.company = owner;
  record.created_at = chain.now();
  funds_hash_ += checksum(&fund.record, sizeof(FundRecord));  // put_fund subtracts it
  put_fund(fund, record);
  return outcome(Result::ok, static_cast<std::int64_t>(id));
}

Outcome Funds::deposit_float(const Command& command, Chain& chain) noexcept {
  Fund* fund = find(command.target);
  if (fund == nullptr) return outcome(Result::fund_not_found);
  if (command.party != fund->record.company) return outcome(Result::forbidden);
  if (Result r = amount_check(command.amount); r != Result::ok) return outcome(r);
  chain.leg(institution_account(fund->record.company), float_account(fund->record.id),
            command.amount, TransferCode::fund_float_deposit, command.id);
  if (Result r = chain.commit(); r != Result::ok) return outcome(r);
  return outcome(Result::ok, chain.available(float_account(fund->record.id)));
}

Funds::Touch Funds::touch(const Fund& fund, std::uint64_t user,
                          std::uint32_t unfolded_day) const noexcept {
  Touch touch;
  touch.slot = fund.holders.find(user);
  if (!touch.slot) return touch;
  touch.holder = fund.holders.at(*touch.slot);
  const FundRecord& record = fund.record;
  if (record.running_day != 0) {
    const IncomeRun* run = runs_.find({record.id, record.running_day});
    CAP_ASSERT(run != nullptr && run->done == 0);
    if (*touch.slot >= run->cursor && *touch.slot < run->holders &&
        touch.holder.income_day < record.running_day) {
      touch.income = income_for(touch.holder, record.running_day, run->income_per_10k_e4);
      credit_income(touch.holder, record.running_day, touch.income);
      touch.paid_first = true;
    }
  }
  Holder& holder = touch.holder;
  if (holder.pending > 0 && holder.confirm_day != unfolded_day) {
    holder.confirmed += holder.pending;
    holder.young = holder.pending;
    holder.young_day = holder.confirm_day;
    holder.pending = 0;
    holder.confirm_day = 0;
  }
  return touch;
}

void Funds::income_legs(const FundRecord& fund, std::int64_t income, std::uint64_t user_data,
                        Chain& chain) {
  if (income == 0) return;
  chain.leg(institution_account(fund.company), custody_account(fund.id), income,
            TransferCode::fund_income, user_data);
  chain.leg(issued_account(fund.id), confirmed_account(fund.id), income, TransferCode::fund_income,
            user_data, payments::ledger_fund_shares);
}

void Funds::finish_touch(Fund& fund, FundRecord& next, std::uint64_t user, const Touch& touch) {
  const std::uint32_t slot = touch.slot ? *touch.slot : fund.holders.add(user);
  fund.holders.put(slot, touch.holder);
  if (!touch.paid_first) return;
  IncomeRun run = *runs_.find({next.id, next.running_day});
  run.credited += touch.income;
  if (touch.income > 0) ++run.paid;
  CAP_ASSERT(run.credited <= run.declared);
  put_run(run);
  next.confirmed_total += touch.income;
  next.income_total += touch.income;
}

void Funds::take_confirmed(FundRecord& fund, Holder& holder, std::int64_t amount) noexcept {
  CAP_ASSERT(amount > 0 && holder.confirmed >= amount && fund.confirmed_total >= amount);
  holder.confirmed -= amount;
  fund.confirmed_total -= amount;
  if (holder.young > holder.confirmed) {
    if (holder.young_day == fund.young_day) fund.young_total -= holder.young - holder.confirmed;
    holder.young = holder.confirmed;
  }
  CAP_ASSERT(fund.young_total >= 0);
}

void Funds::confirm_legs(const FundRecord& fund, Chain& chain) {
  CAP_ASSERT(fund.pending_total > 0);
  chain.leg(pending_account(fund.id), confirmed_account(fund.id), fund.pending_total,
            TransferCode::fund_confirm, fund.pending_day, payments::ledger_fund_shares);
}

// The shares confirmed now become the young ones: until an income day on or after pending_day
// is declared, they do not earn.
void Funds::confirm_done(FundRecord& fund) noexcept {
  fund.confirmed_total += fund.pending_total;
  fund.young_total = fund.pending_total;
  fund.young_day = fund.pending_day;
  fund.pending_total = 0;
  fund.pending_day = 0;
}

// Wallet → custody, and new shares pending until the next business day.
//
// One pending slot per holder (and one for the aggregate) suffices. Let the holder's slot hold
// shares subscribed on t0 <= today, confirming on c = next_business_day(t0). If the aggregate
// already confirmed them, touch() folded them into `confirmed` and the slot is free. Otherwise c is
// the aggregate's pending day: if c <= today it is due and is confirmed first, in this chain (and
// touch() folds the holder's); if c > today, no business day lies in (t0, c), so none lies in
// (today, c) either and next_business_day(today) == c: the new shares join the slot's day.
Outcome Funds::subscribe(const Command& command, Chain& chain) noexcept {
  if (Result r = amount_check(command.amount); r != Result::ok) return outcome(r);
  Fund* fund = find(command.target);
  if (fund == nullptr) return outcome(Result::fund_not_found);
  const FundRecord& record = fund->record;
  const std::uint32_t confirm_day = day32(next_business_day(payments::business_day(chain.now())));
  const bool confirm_first = record.pending_total > 0 && record.pending_day != confirm_day;
  Touch touched = touch(*fund, command.party, confirm_first ? 0 : record.pending_day);
  CAP_ASSERT(touched.holder.pending == 0 || touched.holder.confirm_day == confirm_day);

  income_legs(record, touched.income, command.id, chain);
  if (confirm_first) confirm_legs(record, chain);
  chain.leg(wallet_account(command.party), custody_account(record.id), command.amount,
            TransferCode::fund_subscribe, command.id);
  chain.leg(issued_account(record.id), pending_account(record.id), command.amount,
            TransferCode::fund_subscribe, command.id, payments::ledger_fund_shares);
  if (Result r = chain.commit(); r != Result::ok) return outcome(r);

  FundRecord next = record;
  if (confirm_first) confirm_done(next);
  touched.holder.pending += command.amount;
  touched.holder.confirm_day = confirm_day;
  finish_touch(*fund, next, command.party, touched);
  next.pending_total += command.amount;
  next.pending_day = confirm_day;
  put_fund(*fund, next);
  return outcome(Result::ok, static_cast<std::int64_t>(confirm_day));
}

// Instant up to what is left of today's limit, from the float (a = 1: instant only); the rest
// normal: custody → fund_redemptions now, paid out on the next business day. Either way the
// shares are burned now. The value is the part paid instantly.
Outcome Funds::redeem(const Command& command, Chain& chain) noexcept {
  if (command.a > 1) return outcome(Result::invalid_command);
  if (Result r = amount_check(command.amount); r != Result::ok) return outcome(r);
  Fund* fund = find(command.target);
  if (fund == nullptr) return outcome(Result::fund_not_found);
  const FundRecord& record = fund->record;
  const std::uint64_t today = payments::business_day(chain.now());
  Touch touched = touch(*fund, command.party, record.pending_total > 0 ? record.pending_day : 0);
  if (!touched.slot || touched.holder.confirmed < command.amount) {
    return outcome(Result::fund_holding_insufficient);
  }
  Holder& holder = touched.holder;
  const std::int64_t left =
      instant_redeem_fen_per_day_max - (holder.instant_day == today ? holder.instant_used : 0);
  const bool instant_only = command.a == 1;
  if (instant_only && command.amount > left) return outcome(Result::fund_instant_limit_exceeded);
  const std::int64_t instant = std::min(command.amount, left);
  const std::int64_t normal = command.amount - instant;

  income_legs(record, touched.income, command.id, chain);
  if (instant > 0) {
    chain.leg(confirmed_account(record.id), issued_account(record.id), instant,
              TransferCode::fund_redeem_instant, command.id, payments::ledger_fund_shares);
    chain.leg(float_account(record.id), wallet_account(command.party), instant,
              TransferCode::fund_redeem_instant, command.id);
  }
  if (normal > 0) {
    chain.leg(confirmed_account(record.id), issued_account(record.id), normal,
              TransferCode::fund_redeem, command.id, payments::ledger_fund_shares);
    chain.leg(custody_account(record.id), redemptions_account(record.id), normal,
              TransferCode::fund_redeem, command.id);
  }
  if (Result r = chain.commit(); r != Result::ok) return outcome(r);

  FundRecord next = record;
  take_confirmed(next, holder, command.amount);
  const std::uint32_t settle_day = day32(next_business_day(today));
  if (instant > 0) {
    holder.instant_used =
        static_cast<std::uint32_t>(instant_redeem_fen_per_day_max - left + instant);
    holder.instant_day = day32(today);
    next.float_owed += instant;
    next.float_due_day = std::max(next.float_due_day, settle_day);
  }
  if (normal > 0) {
    next.redemptions_due += normal;
    push_redemption({record.id, command.party, normal, settle_day});
  }
  finish_touch(*fund, next, command.party, touched);
  put_fund(*fund, next);
  return outcome(Result::ok, instant);
}

void Funds::push_redemption(const Redemption& redemption) {
  CAP_ASSERT(redemptions_.empty() || redemptions_.back().pay_day <= redemption.pay_day);
  redemptions_.push_back(redemption);
  redemptions_hash_ += checksum(&redemption, sizeof(Redemption));
}

// The company pays the whole register's cash in one pair of legs first; only then are the holders
// written, so a failure leaves nothing behind.
Result Funds::import_holders(std::uint64_t fund_id, std::uint64_t first_user, std::uint64_t count,
                             absl::FunctionRef<std::int64_t(std::uint64_t)> shares_of,
                             Chain& chain) {
  Fund* fund = find(fund_id);
  if (fund == nullptr) return Result::fund_not_found;
  if (fund->record.running_day != 0) return Result::fund_income_in_progress;
  if (fund->holders.size() + count > holders_per_fund_max) return Result::amount_too_large;
  std::int64_t total = 0;
  for (std::uint64_t user = first_user; user < first_user + count; ++user) {
    if (fund->holders.find(user)) return Result::invalid_command;
    const std::int64_t shares = shares_of(user);
    if (shares < 0 || shares > payments::amount_max) return Result::amount_too_large;
    total += shares;
  }
  if (total > 0) {
    chain.leg(institution_account(fund->record.company), custody_account(fund_id), total,
              TransferCode::fund_subscribe, first_user);
    chain.leg(issued_account(fund_id), confirmed_account(fund_id), total,
              TransferCode::fund_subscribe, first_user, payments::ledger_fund_shares);
    if (Result r = chain.commit(); r != Result::ok) return r;
  }
  fund->holders.reserve(fund->holders.size() + count);
  for (std::uint64_t user = first_user; user < first_user + count; ++user) {
    Holder holder{};
    holder.confirmed = shares_of(user);
    fund->holders.add(user, holder);
  }
  FundRecord next = fund->record;
  next.confirmed_total += total;
  put_fund(*fund, next);
  return Result::ok;
}

}  // namespace capillary::fund
