// Income runs: a declaration fixes the day, the rate and the income to share out; steps pay the
// holders in register order from a cursor, each step one journaled command, so a run over 10^8
// holders shows progress, never stalls the state machine for long, and resumes after a crash from
// the cursor the journal rebuilt.

#include "core/assert.h"
#include "fund/accounts.h"
#include "fund/calendar.h"
#include "fund/funds.h"
#include "fund/holder_income.h"
#include "fund/limits.h"
#include "payments/limits.h"

namespace capillary::fund {

using payments::Chain;
using payments::Command;
using payments::Outcome;
using payments::outcome;
using payments::Result;
using payments::TransferCode;

void Funds::put_run(const IncomeRun& run) { runs_.put({run.fund, run.day}, run); }

// Declares day D's income per 10,000 shares. D must be over (D < today), after the fund's last
// declared day, not before the fund existed, and declared by the business day after it
// (next_business_day(D) >= today). That last rule is what makes the eligible shares exact: the
// only confirmation day that can lie in (D, today] is today, so the shares confirmed after D are
// exactly the young ones of young_day when young_day > D, for the fund and for every holder.
//
// The declared income is income_floor(eligible, rate) with eligible the fund's confirmed shares
// at the start less the young ones; due pending shares are confirmed first, in this chain.
// The value is the declared income.
Outcome Funds::declare_income(const Command& command, Chain& chain) noexcept {
  Fund* fund = find(command.target);
  if (fund == nullptr) return outcome(Result::fund_not_found);
  const FundRecord& record = fund->record;
  if (command.party != record.company) return outcome(Result::forbidden);
  if (command.b > income_per_10k_shares_e4_max) return outcome(Result::fund_income_invalid);
  const std::uint64_t day = command.a;
  if (runs_.find({record.id, day}) != nullptr) return outcome(Result::fund_income_already_declared);
  if (record.running_day != 0) return outcome(Result::fund_income_in_progress);
  const std::uint64_t today = payments::business_day(chain.now());
  if (day >= today || day <= record.last_declared_day ||
      day < payments::business_day(record.created_at) || next_business_day(day) < today) {
    return outcome(Result::fund_income_day_invalid);
  }
  const bool confirm_first = record.pending_total > 0 && record.pending_day <= today;
  if (confirm_first) {
    confirm_legs(record, chain);
    const Result r = chain.commit();
    CAP_ASSERT(r == Result::ok);
  }
  FundRecord next = record;
  if (confirm_first) confirm_done(next);

  IncomeRun run{};
  run.fund = record.id;
  run.day = day;
  run.income_per_10k_e4 = command.b;
  run.eligible = next.confirmed_total - (next.young_day > day ? next.young_total : 0);
  CAP_ASSERT(run.eligible >= 0);
  run.declared = income_floor(run.eligible, command.b);
  run.started_at = chain.now();
  run.holders = static_cast<std::uint32_t>(fund->holders.size());
  put_run(run);

  next.last_declared_day = static_cast<std::uint32_t>(day);
  next.running_day = static_cast<std::uint32_t>(day);
  if (next.incomes_count == yield_days) {
    std::copy(next.incomes_per_10k_e4 + 1, next.incomes_per_10k_e4 + yield_days,
              next.incomes_per_10k_e4);
    --next.incomes_count;
  }
  next.incomes_per_10k_e4[next.incomes_count++] = command.b;
  put_fund(*fund, next);
  return outcome(Result::ok, run.declared);
}

// Pays up to `b` holders from the cursor: each holder's income becomes new confirmed shares in
// the register, and the step's total moves once — company → custody on CNY, issued → confirmed on
// shares. The step that reaches the end posts the residue to the rounding account and closes the
// run. The holders are written before the chain commits: its legs move money from an account that
// may run a debit into accounts with no upper limit, so only a broken cell could refuse them,
// which is asserted. The value is the holders the run still has to look at (0: done).
Outcome Funds::income_step(const Command& command, Chain& chain) noexcept {
  Fund* fund = find(command.target);
  if (fund == nullptr) return outcome(Result::fund_not_found);
  const FundRecord& record = fund->record;
  if (command.party != record.company) return outcome(Result::forbidden);
  const IncomeRun* found = runs_.find({record.id, command.a});
  if (found == nullptr || found->done != 0) return outcome(Result::fund_income_not_running);
  if (command.b == 0 || command.b > income_step_holders_max) {
    return outcome(Result::invalid_command);
  }
  IncomeRun run = *found;
  CAP_ASSERT(record.running_day == run.day);
  const std::uint64_t day = run.day;
  const std::uint64_t rate = run.income_per_10k_e4;
  const auto last = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(std::uint64_t{run.cursor} + command.b, run.holders));
  std::int64_t step_income = 0;
  std::uint32_t paid = 0;
  fund->holders.update(run.cursor, last, [&](Holder& holder) {
    if (holder.income_day >= day) return false;  // paid first by a command that touched it
    const std::int64_t income = income_for(holder, day, rate);
    if (income == 0) return false;  // nothing changes: the record keeps its hash
    credit_income(holder, day, income);
    step_income += income;
    ++paid;
    return true;
  });
  run.cursor = last;
  run.credited += step_income;
  run.paid += paid;
  CAP_ASSERT(run.credited <= run.declared);
  income_legs(record, step_income, command.id, chain);
  const bool done = run.cursor == run.holders;
  if (done) {
    run.residue = run.declared - run.credited;
    if (run.residue > 0) {
      chain.leg(institution_account(record.company), rounding_account(record.id), run.residue,
                TransferCode::fund_income_residue, command.id);
    }
    run.done = 1;
    run.finished_at = chain.now();
    CAP_ASSERT(run.credited + run.residue == run.declared);
  }
  const Result r = chain.commit();
  CAP_ASSERT(r == Result::ok);

  FundRecord next = record;
  next.confirmed_total += step_income;
  next.income_total += step_income;
  if (done) {
    next.residue_total += run.residue;
    next.running_day = 0;
  }
  put_run(run);
  put_fund(*fund, next);
  return outcome(Result::ok, static_cast<std::int64_t>(run.holders - run.cursor));
}

}  // namespace capillary::fund
