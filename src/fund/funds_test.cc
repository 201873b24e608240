// The fund module through a real ledger and Chain: every rule and limit of SPEC §3, a crash in the
// middle of an income run, and a seeded randomized run checking every invariant after each step.

#include "fund/funds.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

#include "fund/accounts.h"
#include "fund/calendar.h"
#include "fund/limits.h"
#include "payments/limits.h"

namespace capillary::fund {
namespace {

using payments::Command;
using payments::CommandKind;
using payments::Outcome;
using payments::Result;

constexpr std::uint64_t company = 7;
constexpr std::uint64_t fund_id = 70;
constexpr std::uint64_t bank = 1;  // where users' money comes from
constexpr std::uint64_t escrow = payments::platform_account(payments::PlatformAccount::escrow);
constexpr std::int64_t cny = 100;  // fen

// ns of `hour`:`minute` China time on `day`.
std::uint64_t at(std::uint64_t day, unsigned hour, unsigned minute = 0) {
  return day_start_ns(day) + (hour * 3600ull + minute * 60ull) * payments::ns_per_s;
}

const std::uint64_t friday = day_number(2026, 3, 6);
const std::uint64_t monday = friday + 3;

class FundsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    institution_.id = company;
    institution_.kind = payments::InstitutionKind::fund_company;
    chain_.set_now(at(friday - 1, 9));
    const ledger::AccountSpec accounts[] = {
        payments::account_spec(payments::AccountKind::institution, company, company, 0),
        payments::account_spec(payments::AccountKind::bank_clearing, bank, 0, 0),
        payments::account_spec(payments::AccountKind::platform, 1, 0,
                               ledger::account_debits_must_not_exceed_credits)};
    ASSERT_EQ(chain_.open_accounts(accounts), Result::ok);
    ASSERT_EQ(apply(CommandKind::create_fund, company, fund_id).result, Result::ok);
  }

  void open_user(std::uint64_t user, std::int64_t wallet) {
    const ledger::AccountSpec account = payments::account_spec(
        payments::AccountKind::wallet, user, user, ledger::account_debits_must_not_exceed_credits);
    ASSERT_EQ(chain_.open_accounts({&account, 1}), Result::ok);
    chain_.leg(payments::account_id(payments::AccountKind::bank_clearing, bank),
               wallet_account(user), wallet, payments::TransferCode::top_up, 0);
    ASSERT_EQ(chain_.commit(), Result::ok);
  }

  Outcome apply(CommandKind kind, std::uint64_t party, std::uint64_t target,
                std::int64_t amount = 0, std::uint64_t a = 0, std::uint64_t b = 0) {
    Command command{};
    command.id = ++command_id_;
    command.party = party;
    command.target = target;
    command.amount = amount;
    command.a = a;
    command.b = b;
    command.kind = kind;
    const bool partner =
        kind == CommandKind::create_fund || kind == CommandKind::fund_declare_income ||
        kind == CommandKind::fund_income_step || kind == CommandKind::fund_deposit_float;
    const Outcome out = funds_.apply(command, chain_, partner ? &institution_ : nullptr);
    EXPECT_EQ(chain_.size(), 0u);
    check();
    return out;
  }
  Result subscribe(std::uint64_t user, std::int64_t amount) {
    return apply(CommandKind::fund_subscribe, user, fund_id, amount).result;
  }
  Outcome redeem(std::uint64_t user, std::int64_t amount, bool instant_only) {
    return apply(CommandKind::fund_redeem, user, fund_id, amount, instant_only ? 1 : 0);
  }
  Outcome declare(std::uint64_t day, std::uint64_t rate) {
    return apply(CommandKind::fund_declare_income, company, fund_id, 0, day, rate);
  }
  Outcome step(std::uint64_t day, std::uint64_t holders) {
    return apply(CommandKind::fund_income_step, company, fund_id, 0, day, holders);
  }
  // Declares and runs a day's income to the end.
  void income(std::uint64_t day, std::uint64_t rate) {
    ASSERT_EQ(declare(day, rate).result, Result::ok);
    ASSERT_EQ(step(day, income_step_holders_max).value, 0);
  }
  void deposit_float(std::int64_t amount) {
    ASSERT_EQ(apply(CommandKind::fund_deposit_float, company, fund_id, amount).result, Result::ok);
  }
  // Moves the clock to `when` and runs what became due.
  void advance_to(std::uint64_t when) {
    ASSERT_GE(when, chain_.now());
    chain_.set_now(when);
    funds_.advance(chain_);
    check();
  }
  void check() {
    EXPECT_EQ(funds_.check_invariants(ledger_), "");
    EXPECT_EQ(ledger_.check_invariants(), "");
  }
  std::int64_t balance(std::uint64_t account) const { return chain_.available(account); }
  std::int64_t wallet(std::uint64_t user) const { return balance(wallet_account(user)); }
  HolderView view(std::uint64_t user) const {
    const auto found = funds_.holder(fund_id, user, chain_.now());
    EXPECT_TRUE(found.has_value());
    return found.value_or(HolderView{});
  }
  Result checkout(std::uint64_t user, std::int64_t amount) {
    Result r = funds_.checkout_legs(fund_id, user, amount, escrow, 0, chain_);
    if (r == Result::ok) r = chain_.commit();
    chain_.clear();
    if (r == Result::ok) funds_.checkout_done(fund_id, user, amount, chain_.now());
    check();
    return r;
  }
  Result refund(std::uint64_t user, std::int64_t amount) {
    Result r = funds_.refund_legs(fund_id, user, amount, escrow, 0, chain_);
    if (r == Result::ok) r = chain_.commit();
    chain_.clear();
    if (r == Result::ok) funds_.refund_done(fund_id, user, amount, chain_.now());
    check();
    return r;
  }

  ledger::Ledger ledger_;
  payments::Chain chain_{ledger_};
  Funds funds_;
  payments::InstitutionRecord institution_{};
  std::uint64_t command_id_ = 0;
};

TEST_F(FundsTest, OnlyAFundCompanyCreatesAFundOnce) {
  EXPECT_EQ(apply(CommandKind::create_fund, company, fund_id).result, Result::fund_exists);
  institution_.kind = payments::InstitutionKind::bank;
  EXPECT_EQ(apply(CommandKind::create_fund, company, fund_id + 1).result, Result::forbidden);
  EXPECT_EQ(funds_.find_fund(fund_id + 1), nullptr);
  institution_.kind = payments::InstitutionKind::fund_company;
  EXPECT_EQ(apply(CommandKind::create_fund, company, 0).result, Result::id_must_not_be_zero);
  EXPECT_EQ(funds_.holders(fund_id), 0u);
  ASSERT_NE(funds_.find_fund(fund_id), nullptr);
  EXPECT_EQ(funds_.find_fund(fund_id)->company, company);
  EXPECT_NE(ledger_.find_account(custody_account(fund_id)), nullptr);
  EXPECT_NE(ledger_.find_account(pending_account(fund_id)), nullptr);
}

TEST_F(FundsTest, ASubscriptionOnFridayConfirmsOnMondayAcrossTheWeekend) {
  open_user(1, 5'000 * cny);
  advance_to(at(friday, 14));
  const Outcome out = apply(CommandKind::fund_subscribe, 1, fund_id, 1'000 * cny);
  ASSERT_EQ(out.result, Result::ok);
  EXPECT_EQ(static_cast<std::uint64_t>(out.value), monday);
  EXPECT_EQ(wallet(1), 4'000 * cny);
  EXPECT_EQ(balance(custody_account(fund_id)), 1'000 * cny);
  advance_to(at(friday + 2, 23, 59));  // Sunday night: still pending
  EXPECT_EQ(view(1).pending, 1'000 * cny);
  EXPECT_EQ(view(1).confirm_day, monday);
  EXPECT_EQ(redeem(1, 1, false).result, Result::fund_holding_insufficient);
  EXPECT_EQ(balance(pending_account(fund_id)), 1'000 * cny);
  advance_to(at(monday, 0));
  EXPECT_EQ(balance(pending_account(fund_id)), 0);
  EXPECT_EQ(balance(confirmed_account(fund_id)), 1'000 * cny);
  EXPECT_EQ(view(1).confirmed, 1'000 * cny);
  EXPECT_EQ(view(1).pending, 0);
  deposit_float(100 * cny);
  EXPECT_EQ(redeem(1, 100 * cny, true).result, Result::ok);
  EXPECT_EQ(wallet(1), 4'100 * cny);
}

TEST_F(FundsTest, SubscriptionsOfOneWeekendShareOnePendingSlot) {
  open_user(1, 5'000 * cny);
  advance_to(at(friday, 10));
  ASSERT_EQ(subscribe(1, 100 * cny), Result::ok);
  advance_to(at(friday + 1, 10));
  ASSERT_EQ(subscribe(1, 200 * cny), Result::ok);  // Saturday: also confirms Monday
  EXPECT_EQ(view(1).pending, 300 * cny);
  advance_to(at(monday, 10));
  ASSERT_EQ(subscribe(1, 50 * cny), Result::ok);  // confirms Tuesday
  const HolderView v = view(1);
  EXPECT_EQ(v.confirmed, 300 * cny);
  EXPECT_EQ(v.pending, 50 * cny);
  EXPECT_EQ(v.confirm_day, monday + 1);
}

TEST_F(FundsTest, InstantRedemptionLimitBoundaries) {
  for (std::uint64_t user = 1; user <= 4; ++user) open_user(user, 30'000 * cny);
  advance_to(at(friday - 1, 10));
  for (std::uint64_t user = 1; user <= 4; ++user)
    ASSERT_EQ(subscribe(user, 30'000 * cny), Result::ok);
  deposit_float(100'000 * cny);
  advance_to(at(friday, 10));
  const Outcome below = redeem(1, 999'999, true);  // 9,999.99 CNY
  EXPECT_EQ(below.result, Result::ok);
  EXPECT_EQ(below.value, 999'999);
  EXPECT_EQ(redeem(2, 1'000'000, true).result, Result::ok);  // 10,000.00 CNY
  EXPECT_EQ(redeem(3, 1'000'001, true).result, Result::fund_instant_limit_exceeded);  // 10,000.01
  EXPECT_EQ(apply(CommandKind::fund_redeem, 3, fund_id, 1, 2).result, Result::invalid_command);
  EXPECT_EQ(view(3).confirmed, 30'000 * cny);
  EXPECT_EQ(wallet(1), 999'999);
  EXPECT_EQ(wallet(2), 1'000'000);
  EXPECT_EQ(wallet(3), 0);
  EXPECT_EQ(view(1).instant_left, 1);
  EXPECT_EQ(redeem(1, 2, true).result, Result::fund_instant_limit_exceeded);
  EXPECT_EQ(redeem(1, 1, true).result, Result::ok);
  // Instant then normal: 10,000.01 CNY = 10,000.00 now + 0.01 on the next business day.
  const Outcome split = redeem(3, 1'000'001, false);
  ASSERT_EQ(split.result, Result::ok);
  EXPECT_EQ(split.value, 1'000'000);
  EXPECT_EQ(wallet(3), 1'000'000);
  EXPECT_EQ(balance(redemptions_account(fund_id)), 1);
  // The limit is per China day: 23:59 is still Friday, 00:00 is Saturday.
  advance_to(at(friday, 23, 59));
  EXPECT_EQ(redeem(2, 1, true).result, Result::fund_instant_limit_exceeded);
  advance_to(at(friday + 1, 0, 0));
  EXPECT_EQ(view(2).instant_left, 1'000'000);
  EXPECT_EQ(redeem(2, 1'000'000, true).result, Result::ok);
  EXPECT_EQ(wallet(3), 1'000'000);  // normal redemptions wait for Monday
  advance_to(at(monday, 0));
  EXPECT_EQ(wallet(3), 1'000'001);
}

TEST_F(FundsTest, CheckoutSpendingCountsAgainstTheInstantLimit) {
  open_user(1, 30'000 * cny);
  advance_to(at(friday - 1, 10));
  ASSERT_EQ(subscribe(1, 30'000 * cny), Result::ok);
  deposit_float(50'000 * cny);
  advance_to(at(friday, 10));
  EXPECT_EQ(checkout(1, 6'000 * cny), Result::ok);
  EXPECT_EQ(balance(escrow), 6'000 * cny);
  EXPECT_EQ(view(1).instant_left, 4'000 * cny);
  EXPECT_EQ(redeem(1, 4'000 * cny + 1, true).result, Result::fund_instant_limit_exceeded);
  EXPECT_EQ(checkout(1, 4'000 * cny + 1), Result::fund_instant_limit_exceeded);
  EXPECT_EQ(checkout(1, 4'000 * cny), Result::ok);
  EXPECT_EQ(view(1).confirmed, 20'000 * cny);
  // A refund before release returns the money as confirmed shares; the limit stays used.
  EXPECT_EQ(refund(1, 2'500 * cny), Result::ok);
  EXPECT_EQ(view(1).confirmed, 22'500 * cny);
  EXPECT_EQ(balance(escrow), 7'500 * cny);
  EXPECT_EQ(view(1).instant_left, 0);
  EXPECT_EQ(checkout(2, 1), Result::fund_holding_insufficient);
}

TEST_F(FundsTest, TheFloatAdvancesAndCustodyRepaysItOnTheNextBusinessDay) {
  open_user(1, 30'000 * cny);
  advance_to(at(friday - 1, 10));
  ASSERT_EQ(subscribe(1, 30'000 * cny), Result::ok);
  deposit_float(100 * cny);
  advance_to(at(friday, 10));
  EXPECT_EQ(redeem(1, 100 * cny + 1, true).result, Result::fund_float_exhausted);
  EXPECT_EQ(view(1).confirmed, 30'000 * cny);
  EXPECT_EQ(view(1).instant_left, 10'000 * cny);
  EXPECT_EQ(redeem(1, 100 * cny, true).result, Result::ok);
  EXPECT_EQ(balance(float_account(fund_id)), 0);
  EXPECT_EQ(funds_.find_fund(fund_id)->float_owed, 100 * cny);
  advance_to(at(friday + 2, 12));
  EXPECT_EQ(balance(float_account(fund_id)), 0);
  EXPECT_EQ(funds_.next_deadline(), day_start_ns(monday));
  advance_to(at(monday, 0));
  EXPECT_EQ(balance(float_account(fund_id)), 100 * cny);
  EXPECT_EQ(balance(custody_account(fund_id)), 29'900 * cny);
  EXPECT_EQ(funds_.next_deadline(), std::nullopt);
}

TEST_F(FundsTest, NormalRedemptionsArePaidOutInBoundedBatches) {
  open_user(1, 20'000 * cny);
  advance_to(at(friday - 1, 10));
  ASSERT_EQ(subscribe(1, 20'000 * cny), Result::ok);
  deposit_float(10'000 * cny);
  advance_to(at(friday, 10));
  ASSERT_EQ(redeem(1, instant_redeem_fen_per_day_max, true).result, Result::ok);
  constexpr std::int64_t count = redemption_payouts_per_advance_max + 1;
  Command command{};
  command.party = 1;
  command.target = fund_id;
  command.amount = 1;
  command.kind = CommandKind::fund_redeem;
  for (std::int64_t i = 0; i < count; ++i) {
    command.id = ++command_id_;
    ASSERT_EQ(funds_.apply(command, chain_, nullptr).value, 0);  // nothing instant: all normal
  }
  check();
  const std::int64_t before = wallet(1);
  advance_to(at(monday, 0));
  EXPECT_EQ(wallet(1), before + count - 1);
  EXPECT_EQ(funds_.next_deadline(), day_start_ns(monday));  // one left, due already
  advance_to(at(monday, 0, 1));
  EXPECT_EQ(wallet(1), before + count);
  EXPECT_EQ(funds_.next_deadline(), std::nullopt);
}

TEST_F(FundsTest, IncomeDeclarationRules) {
  open_user(1, 1'000 * cny);
  advance_to(at(friday - 1, 10));
  ASSERT_EQ(subscribe(1, 1'000 * cny), Result::ok);  // confirms Friday
  advance_to(at(monday, 10));
  EXPECT_EQ(apply(CommandKind::fund_declare_income, company + 1, fund_id, 0, friday, 6500).result,
            Result::forbidden);
  EXPECT_EQ(declare(friday, income_per_10k_shares_e4_max + 1).result, Result::fund_income_invalid);
  EXPECT_EQ(declare(monday, 6500).result, Result::fund_income_day_invalid);      // not over
  EXPECT_EQ(declare(friday - 1, 6500).result, Result::fund_income_day_invalid);  // too late
  EXPECT_EQ(step(friday, 10).result, Result::fund_income_not_running);
  ASSERT_EQ(declare(friday, 6500).result, Result::ok);
  EXPECT_EQ(declare(friday, 6500).result, Result::fund_income_already_declared);
  EXPECT_EQ(declare(friday + 1, 6500).result, Result::fund_income_in_progress);
  EXPECT_EQ(step(friday, 0).result, Result::invalid_command);
  EXPECT_EQ(step(friday, 10).value, 0);
  EXPECT_EQ(step(friday, 10).result, Result::fund_income_not_running);
  EXPECT_EQ(declare(friday, 6500).result, Result::fund_income_already_declared);
  EXPECT_EQ(declare(friday + 2, 6500).result, Result::ok);  // Sunday; Saturday is skipped
  EXPECT_EQ(step(friday + 2, 10).value, 0);
  EXPECT_EQ(declare(friday + 1, 6500).result, Result::fund_income_day_invalid);  // before the last
}

TEST_F(FundsTest, SharesEarnFromTheirConfirmationDay) {
  open_user(1, 100'000 * cny);
  open_user(2, 100'000 * cny);
  advance_to(at(friday - 1, 10));
  ASSERT_EQ(subscribe(1, 20'000 * cny), Result::ok);  // Thursday → Friday
  advance_to(at(friday, 10));
  ASSERT_EQ(subscribe(2, 20'000 * cny), Result::ok);  // Friday → Monday
  advance_to(at(monday, 9));
  // Friday, Saturday, Sunday: only user 1's shares earn. 20,000 CNY × 0.65 / 10,000 = 1.30 CNY.
  for (std::uint64_t day = friday; day < monday; ++day) {
    ASSERT_EQ(declare(day, 6500).value, 130) << day;
    ASSERT_EQ(step(day, 10).value, 0);
  }
  EXPECT_EQ(view(1).income_total, 390);
  EXPECT_EQ(view(2).income_total, 0);
  EXPECT_EQ(view(2).income_day, friday + 2);  // the fund's last day, on which it earned nothing
  advance_to(at(monday + 1, 9));
  // Monday: both, user 1 on its income too.
  const std::int64_t one = (20'000 * cny + 390) * 6500 / 100'000'000;
  const std::int64_t two = 20'000 * cny * 6500 / 100'000'000;
  EXPECT_EQ(declare(monday, 6500).value, (40'000 * cny + 390) * 6500 / 100'000'000);
  ASSERT_EQ(step(monday, 10).value, 0);
  EXPECT_EQ(view(1).income_last, one);
  EXPECT_EQ(view(2).income_last, two);
  EXPECT_EQ(view(2).income_day, monday);
}

// Zero and one-fen holdings earn nothing; the fen nobody could be paid go to rounding, and the
// company pays exactly the declared income.
TEST_F(FundsTest, ResidueAccountingOnZeroAndOneFenHoldings) {
  const std::int64_t holdings[] = {1, 0, 1'538'462, 1'538'461, 1'000'001, 777'777'777};
  for (std::uint64_t user = 1; user <= 6; ++user) open_user(user, 10'000'000 * cny);
  advance_to(at(friday - 1, 10));
  ASSERT_EQ(subscribe(2, 5 * cny), Result::ok);  // user 2 will hold nothing
  for (std::uint64_t user = 1; user <= 6; ++user) {
    if (holdings[user - 1] > 0) {
      ASSERT_EQ(subscribe(user, holdings[user - 1]), Result::ok);
    }
  }
  deposit_float(10 * cny);
  advance_to(at(friday, 10));
  ASSERT_EQ(redeem(2, 5 * cny, true).result, Result::ok);
  advance_to(at(monday, 10));
  // Σ = 781,854,702 fen × 6500 / 10^8 = 50,820.56 → 50,820 fen declared. Per holder:
  // 0, 0, 100.00003 → 100, 99.99996 → 99, 65.00006 → 65, 50,555.55 → 50,555: 50,819 credited.
  const std::int64_t expected[] = {0, 0, 100, 99, 65, 50'555};
  ASSERT_EQ(declare(friday, 6500).value, 50'820);
  EXPECT_EQ(step(friday, 4).value, 2);
  EXPECT_EQ(step(friday, 4).value, 0);
  const IncomeRun* run = funds_.find_run(fund_id, friday);
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->credited, 50'819);
  EXPECT_EQ(run->residue, 1);
  EXPECT_EQ(run->paid, 4u);
  EXPECT_EQ(balance(rounding_account(fund_id)), 1);
  for (std::uint64_t user = 1; user <= 6; ++user) {
    EXPECT_EQ(view(user).income_total, expected[user - 1]) << user;
  }
  // The next day, on the grown holdings, the fen add up exactly: 50,823 declared and credited.
  advance_to(at(monday + 1, 10));
  const std::int64_t before_institution = balance(institution_account(company));
  ASSERT_EQ(declare(monday, 6500).result, Result::ok);
  ASSERT_EQ(step(monday, 100).value, 0);
  run = funds_.find_run(fund_id, monday);
  EXPECT_EQ(run->declared, 50'823);
  EXPECT_EQ(run->credited, 50'823);
  EXPECT_EQ(run->residue, 0);
  EXPECT_EQ(balance(rounding_account(fund_id)), 1);
  EXPECT_EQ(before_institution - balance(institution_account(company)), run->declared);
}

TEST_F(FundsTest, AHolderTouchedDuringARunIsPaidFirstAndOnlyOnce) {
  for (std::uint64_t user = 1; user <= 3; ++user) open_user(user, 100'000 * cny);
  advance_to(at(friday - 1, 10));
  for (std::uint64_t user = 1; user <= 3; ++user)
    ASSERT_EQ(subscribe(user, 50'000 * cny), Result::ok);
  deposit_float(100'000 * cny);
  advance_to(at(monday, 10));
  ASSERT_EQ(declare(friday, 10'000).value,
            3 * 50'000 * cny / 10'000);  // 1 CNY per 10,000: 5 CNY each
  ASSERT_EQ(step(friday, 1).value, 2);
  // User 3, not reached yet, redeems everything it held at the start: it is paid first, then
  // its redemption may use the income too.
  EXPECT_EQ(redeem(3, 50'000 * cny + 500, false).result, Result::ok);
  EXPECT_EQ(view(3).income_total, 500);
  EXPECT_EQ(view(3).confirmed, 0);
  ASSERT_EQ(step(friday, 10).value, 0);
  EXPECT_EQ(view(1).income_total, 500);
  EXPECT_EQ(view(2).income_total, 500);
  EXPECT_EQ(view(3).income_total, 500);
  const IncomeRun* run = funds_.find_run(fund_id, friday);
  EXPECT_EQ(run->credited, 1'500);
  EXPECT_EQ(run->residue, 0);
}

TEST_F(FundsTest, ACrashInTheMiddleOfARunPaysEveryoneOnceAfterRestart) {
  constexpr std::uint64_t users = 25;
  for (std::uint64_t user = 1; user <= users; ++user) open_user(user, 100'000 * cny);
  advance_to(at(friday - 1, 10));
  for (std::uint64_t user = 1; user <= users; ++user) {
    ASSERT_EQ(subscribe(user, static_cast<std::int64_t>(user * 323'457)), Result::ok);
  }
  advance_to(at(monday, 10));
  ASSERT_EQ(declare(friday, 7321).result, Result::ok);
  ASSERT_EQ(step(friday, 10).value, 15);
  ASSERT_EQ(funds_.runs_in_progress(),
            (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{fund_id, friday}}));

  // The checkpoint a crash would recover from: the ledger's records, the chain's sequence, the
  // module's bytes.
  std::string saved;
  funds_.save(&saved);
  const std::vector<ledger::Account> accounts(ledger_.accounts().begin(), ledger_.accounts().end());
  const std::vector<ledger::TransferRecord> transfers(ledger_.transfers().begin(),
                                                      ledger_.transfers().end());
  const std::uint64_t sequence = chain_.sequence(), now = chain_.now();
  const std::uint64_t journaled = command_id_;  // the journal replays the same commands

  // The run without a crash.
  ASSERT_EQ(step(friday, 10).value, 5);
  ASSERT_EQ(step(friday, 10).value, 0);
  const std::uint64_t uninterrupted_funds = funds_.state_hash();
  const std::uint64_t uninterrupted_ledger = ledger_.state_hash();

  // Restart: recover and resume from the cursor with the same step commands.
  ledger::Ledger ledger;
  ledger.restore(accounts, transfers);
  payments::Chain chain(ledger);
  chain.set_sequence(sequence);
  chain.set_now(now);
  Funds recovered;
  std::string_view in = saved;
  ASSERT_TRUE(recovered.load(&in));
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(recovered.check_invariants(ledger), "");
  ASSERT_EQ(recovered.runs_in_progress().size(), 1u);
  Command resume{};
  resume.kind = CommandKind::fund_income_step;
  resume.party = company;
  resume.target = fund_id;
  resume.a = friday;
  resume.b = 10;
  command_id_ = journaled;
  for (std::int64_t left : {5, 0}) {
    resume.id = ++command_id_;
    EXPECT_EQ(recovered.apply(resume, chain, &institution_).value, left);
    EXPECT_EQ(recovered.check_invariants(ledger), "");
  }
  EXPECT_EQ(recovered.state_hash(), uninterrupted_funds);
  EXPECT_EQ(ledger.state_hash(), uninterrupted_ledger);
  for (std::uint64_t user = 1; user <= users; ++user) {
    const std::int64_t shares = static_cast<std::int64_t>(user * 323'457);
    EXPECT_EQ(recovered.holder(fund_id, user, now)->income_total, shares * 7321 / 100'000'000)
        << user;
  }
  EXPECT_TRUE(recovered.runs_in_progress().empty());
}

// The benchmark's bulk set-up balances like subscriptions would, and a run over it balances.
TEST_F(FundsTest, ImportedHoldersBalanceAndEarn) {
  advance_to(at(friday, 10));
  const auto shares_of = [](std::uint64_t user) {
    return static_cast<std::int64_t>(user * 10'007 % 3'000'000);
  };
  ASSERT_EQ(funds_.import_holders(fund_id, 1000, 500, shares_of, chain_), Result::ok);
  check();
  EXPECT_EQ(funds_.holders(fund_id), 500u);
  EXPECT_EQ(funds_.import_holders(fund_id, 1499, 2, shares_of, chain_), Result::invalid_command);
  EXPECT_EQ(funds_.holders(fund_id), 500u);
  std::int64_t total = 0, credited = 0;
  for (std::uint64_t user = 1000; user < 1500; ++user) {
    total += shares_of(user);
    credited += shares_of(user) * 6500 / 100'000'000;
  }
  EXPECT_EQ(balance(custody_account(fund_id)), total);
  advance_to(at(monday, 10));
  ASSERT_EQ(declare(friday, 6500).value, total * 6500 / 100'000'000);
  EXPECT_EQ(step(friday, 200).value, 300);
  EXPECT_EQ(step(friday, 200).value, 100);
  EXPECT_EQ(step(friday, 200).value, 0);
  const IncomeRun* run = funds_.find_run(fund_id, friday);
  EXPECT_EQ(run->credited, credited);
  EXPECT_EQ(run->residue, total * 6500 / 100'000'000 - credited);
}

TEST_F(FundsTest, SevenDayYield) {
  open_user(1, 1'000 * cny);
  advance_to(at(friday - 1, 10));
  ASSERT_EQ(subscribe(1, 1'000 * cny), Result::ok);
  for (std::uint64_t day = friday; day < friday + 7; ++day) {
    EXPECT_EQ(funds_.yield_7d_ppm(fund_id), std::nullopt);
    advance_to(at(day + 1, 9));
    income(day, 6500);
  }
  EXPECT_EQ(funds_.yield_7d_ppm(fund_id), 24'008);  // 1.000065^365 − 1 = 2.4008%
}

// Thousands of mixed operations; every invariant after each. The seed is printed on failure.
class FundsRandomizedTest : public FundsTest {
 protected:
  static constexpr std::uint64_t users = 12;

  // What each holder must earn from the run just declared: the same run finished at once on a
  // copy of the state, before any command touches anyone. Touched holders are paid first, so the
  // real run, interleaved with everything else, must pay exactly this.
  void expect_income_of_start(std::uint64_t day) {
    std::string saved;
    funds_.save(&saved);
    ledger::Ledger ledger;
    ledger.restore({ledger_.accounts().begin(), ledger_.accounts().end()},
                   {ledger_.transfers().begin(), ledger_.transfers().end()});
    payments::Chain chain(ledger);
    chain.set_sequence(chain_.sequence());
    chain.set_now(chain_.now());
    Funds copy;
    std::string_view in = saved;
    ASSERT_TRUE(copy.load(&in));
    Command step{};
    step.party = company;
    step.target = fund_id;
    step.kind = CommandKind::fund_income_step;
    step.a = day;
    step.b = income_step_holders_max;
    step.id = ~std::uint64_t{0};
    ASSERT_EQ(copy.apply(step, chain, &institution_).value, 0);
    for (std::uint64_t user = 1; user <= users; ++user) {
      const auto before = funds_.holder(fund_id, user, chain_.now());
      const auto after = copy.holder(fund_id, user, chain_.now());
      income_before_[user] = before ? before->income_total : 0;
      income_expected_[user] = after ? after->income_total - income_before_[user] : 0;
    }
  }
  void check_income_of_start() {
    for (std::uint64_t user = 1; user <= users; ++user) {
      const auto now = funds_.holder(fund_id, user, chain_.now());
      EXPECT_EQ((now ? now->income_total : 0) - income_before_[user], income_expected_[user])
          << user;
    }
  }

  std::map<std::uint64_t, std::int64_t> income_before_, income_expected_;
};

TEST_F(FundsRandomizedTest, RandomizedOperationsKeepEveryInvariant) {
  const std::uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 random(seed);
  for (std::uint64_t user = 1; user <= users; ++user) open_user(user, 200'000 * cny);
  advance_to(at(friday - 1, 10));
  deposit_float(30'000 * cny);
  std::map<std::uint64_t, std::int64_t> in_escrow;  // fund-paid checkouts not refunded, per user
  const auto pick = [&](std::uint64_t n) {
    return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(random);
  };
  const auto amount = [&] {
    return static_cast<std::int64_t>(pick(3) == 0 ? 1 + pick(100) : 1 + pick(1'500'000));
  };
  std::uint64_t runs = 0;
  for (int i = 0; i < 4000; ++i) {
    const std::uint64_t user = 1 + pick(users);
    switch (pick(9)) {
      case 0:
      case 1:
        subscribe(user, amount());
        break;
      case 2:
        redeem(user, amount(), pick(2) == 0);
        break;
      case 3: {
        const std::int64_t spend = amount();
        if (checkout(user, spend) == Result::ok) in_escrow[user] += spend;
        break;
      }
      case 4:
        if (in_escrow[user] > 0) {
          const std::int64_t back =
              1 + static_cast<std::int64_t>(pick(static_cast<std::uint64_t>(in_escrow[user])));
          ASSERT_EQ(refund(user, back), Result::ok);
          in_escrow[user] -= back;
        }
        break;
      case 5: {  // the company declares the days it has not declared yet, one at a time
        const FundRecord& record = *funds_.find_fund(fund_id);
        const std::uint64_t today = payments::business_day(chain_.now());
        if (record.running_day == 0 && today > 0) {
          const std::uint64_t declared =
              std::max<std::uint64_t>(record.last_declared_day, friday - 2);
          for (std::uint64_t d = declared + 1; d < today; ++d) {
            if (next_business_day(d) >= today) {
              ASSERT_EQ(declare(d, pick(20'000)).result, Result::ok);
              ++runs;
              expect_income_of_start(d);
              break;
            }
          }
        }
        break;
      }
      case 6: {
        const FundRecord& record = *funds_.find_fund(fund_id);
        if (record.running_day != 0) {
          const std::uint64_t running = record.running_day;
          ASSERT_EQ(step(running, 1 + pick(5)).result, Result::ok);
          if (funds_.find_run(fund_id, running)->done != 0) check_income_of_start();
        }
        break;
      }
      case 7:
        deposit_float(amount());
        break;
      case 8:  // time passes: a few hours, sometimes a day or more
        advance_to(chain_.now() + (1 + pick(pick(4) == 0 ? 60 : 8)) * 3600 * payments::ns_per_s);
        break;
    }
    ASSERT_EQ(funds_.check_invariants(ledger_), "") << "operation " << i;
    if (i % 500 == 0) {  // a checkpoint restores to the same state
      std::string saved;
      funds_.save(&saved);
      Funds restored;
      std::string_view in = saved;
      ASSERT_TRUE(restored.load(&in));
      ASSERT_TRUE(in.empty());
      ASSERT_EQ(restored.state_hash(), funds_.state_hash());
      ASSERT_EQ(restored.check_invariants(ledger_), "");
    }
  }
  EXPECT_GT(runs, 3u);
  const FundRecord& record = *funds_.find_fund(fund_id);
  std::int64_t income = 0;
  for (std::uint64_t user = 1; user <= users; ++user) {
    if (const auto v = funds_.holder(fund_id, user, chain_.now())) income += v->income_total;
  }
  EXPECT_EQ(income, record.income_total);
}

}  // namespace
}  // namespace capillary::fund
