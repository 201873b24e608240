#include "ledger/ledger.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <limits>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/limits.h"
#include "ledger/test_printers.h"

namespace capillary::ledger {

namespace {

using AR = CreateAccountResult;
using TR = CreateTransferResult;

constexpr std::int64_t amount_max = std::numeric_limits<std::int64_t>::max();
constexpr std::uint64_t id_max = std::numeric_limits<std::uint64_t>::max();

// debits_pending, debits_posted, credits_pending, credits_posted: compared and printed as a whole.
using Four = std::array<std::int64_t, 4>;

Four four(const Balances& b) {
  return {b.debits_pending, b.debits_posted, b.credits_pending, b.credits_posted};
}

AccountSpec account(std::uint64_t id, std::uint16_t flags = 0, std::int64_t credit_limit = 0,
                    std::uint32_t ledger = 1) {
  return {.id = id,
          .owner = 7,
          .user_data = 0,
          .credit_limit = credit_limit,
          .ledger = ledger,
          .code = 10,
          .flags = flags};
}

AccountSpec wallet(std::uint64_t id) { return account(id, account_debits_must_not_exceed_credits); }

Transfer transfer(std::uint64_t id, std::uint64_t debit, std::uint64_t credit,
                  std::int64_t amount) {
  return {.id = id,
          .debit_account_id = debit,
          .credit_account_id = credit,
          .amount = amount,
          .pending_id = 0,
          .user_data = 0,
          .timeout_s = 0,
          .ledger = 1,
          .code = 1,
          .flags = 0,
          .reserved = 0};
}

Transfer hold(std::uint64_t id, std::uint64_t debit, std::uint64_t credit, std::int64_t amount,
              std::uint32_t timeout_s = 0) {
  Transfer t = transfer(id, debit, credit, amount);
  t.flags = transfer_pending;
  t.timeout_s = timeout_s;
  return t;
}

// A post or void that leaves every field zero, meaning "as the hold".
Transfer settle(std::uint64_t id, std::uint64_t pending_id, std::uint16_t flag,
                std::int64_t amount) {
  return {.id = id,
          .debit_account_id = 0,
          .credit_account_id = 0,
          .amount = amount,
          .pending_id = pending_id,
          .user_data = 0,
          .timeout_s = 0,
          .ledger = 0,
          .code = 0,
          .flags = flag,
          .reserved = 0};
}
Transfer post(std::uint64_t id, std::uint64_t pending_id, std::int64_t amount = 0) {
  return settle(id, pending_id, transfer_post_pending, amount);
}
Transfer void_hold(std::uint64_t id, std::uint64_t pending_id, std::int64_t amount = 0) {
  return settle(id, pending_id, transfer_void_pending, amount);
}

Transfer linked(Transfer t) {
  t.flags |= transfer_linked;
  return t;
}
AccountSpec linked(AccountSpec a) {
  a.flags |= account_linked;
  return a;
}

// Two sequences of records (a vector, a ledger table) hold the same bytes in the same order.
template <typename A, typename B>
bool same_bytes(const A& a, const B& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](const auto& x, const auto& y) {
           return std::memcmp(&x, &y, sizeof(x)) == 0;
         });
}

// Everything a rejected event must leave as it was.
struct Snapshot {
  std::vector<Account> accounts;
  std::vector<TransferRecord> transfers;
  std::uint64_t state_hash;
  std::size_t history_size;
};

class LedgerTest : public ::testing::Test {
 public:
  void SetUp() override { ledger_.set_history_sink(&history_); }
  // Every scenario must leave the ledger consistent, whatever it asserted on the way.
  void TearDown() override { EXPECT_EQ(ledger_.check_invariants(), ""); }

  std::vector<AR> create_accounts(const std::vector<AccountSpec>& events) {
    std::vector<AR> results(events.size());
    ledger_.create_accounts(events, now_, results);
    now_ += events.size();
    return results;
  }
  AR create_account(const AccountSpec& spec) { return create_accounts({spec})[0]; }

  std::vector<TR> create_transfers(const std::vector<Transfer>& events) {
    std::vector<TR> results(events.size());
    ledger_.create_transfers(events, now_, results);
    now_ += events.size();
    return results;
  }
  TR create_transfer(const Transfer& t) { return create_transfers({t})[0]; }

  void advance_s(std::uint64_t seconds) { now_ += seconds * ns_per_s; }

  Four balances(std::uint64_t id) const {
    const Account* a = ledger_.find_account(id);
    if (a == nullptr) {
      ADD_FAILURE() << "no account " << id;
      return {-1, -1, -1, -1};
    }
    return four(balances_of(*a));
  }
  PendingStatus status(std::uint64_t transfer_id) const {
    const TransferRecord* r = ledger_.find_transfer(transfer_id);
    if (r == nullptr) {
      ADD_FAILURE() << "no transfer " << transfer_id;
      return PendingStatus::none;
    }
    return r->status;
  }

  Snapshot snapshot() const {
    return {{ledger_.accounts().begin(), ledger_.accounts().end()},
            {ledger_.transfers().begin(), ledger_.transfers().end()},
            ledger_.state_hash(),
            history_.size()};
  }
  void expect_unchanged_since(const Snapshot& before) const {
    EXPECT_TRUE(same_bytes(before.accounts, ledger_.accounts())) << "accounts changed";
    EXPECT_TRUE(same_bytes(before.transfers, ledger_.transfers()))
        << "transfers changed";
    EXPECT_EQ(before.state_hash, ledger_.state_hash());
    EXPECT_EQ(before.history_size, history_.size());
  }

  // A small world with one record in every state, shared by the rejection cases below.
  // Ledger 1: 1 and 5 unconstrained, 2 a wallet, 3 must never hold credit, 4 a credit line of
  // 100. Ledger 2: 9 and 10. 20..22 unconstrained, for overflows.
  // Transfers: 600 funds the wallet with 1000; holds on the wallet: 500 pending (100), 501 posted
  // by 511, 502 voided by 512, 503 expired.
  void build_world() {
    ASSERT_EQ(
        create_accounts({account(1), wallet(2), account(3, account_credits_must_not_exceed_debits),
                         account(4, account_debits_must_not_exceed_credits, 100), account(5),
                         account(9, 0, 0, 2), account(10, 0, 0, 2), account(20), account(21),
                         account(22)}),
        std::vector<AR>(10, AR::ok));
    ASSERT_EQ(create_transfers({transfer(600, 1, 2, 1000), hold(500, 2, 5, 100),
                                hold(501, 2, 5, 50), hold(502, 2, 5, 40), hold(503, 2, 5, 30, 1),
                                post(511, 501), void_hold(512, 502)}),
              std::vector<TR>(7, TR::ok));
    advance_s(2);
    ASSERT_EQ(ledger_.expire(now_), 1u);
    ASSERT_EQ(status(500), PendingStatus::pending);
    ASSERT_EQ(status(501), PendingStatus::posted);
    ASSERT_EQ(status(502), PendingStatus::voided);
    ASSERT_EQ(status(503), PendingStatus::expired);
    ASSERT_EQ(balances(2), (Four{100, 50, 0, 1000}));
  }

  Ledger ledger_;
  std::vector<HistoryEntry> history_;
  std::uint64_t now_ = 1'700'000'000 * ns_per_s;
};

// ---------------------------------------------------------------------------------------------
// One case per result code: the batch provokes exactly that code and changes nothing.

struct TransferCase {
  std::string name;
  TR code;
  std::vector<Transfer> batch;
  std::vector<TR> expected;
  std::function<void(LedgerTest&)> setup = nullptr;  // state beyond the world, if any
};

Transfer with(Transfer t, const std::function<void(Transfer&)>& change) {
  change(t);
  return t;
}

// Puts account 20 (debits) and 21 (credits) 10 below the maximum, pending or posted.
void near_max(LedgerTest& test, bool pending) {
  const Transfer t =
      pending ? hold(900, 20, 21, amount_max - 10) : transfer(900, 20, 21, amount_max - 10);
  ASSERT_EQ(test.create_transfer(t), TR::ok);
}

std::vector<TransferCase> transfer_cases() {
  const Transfer good = transfer(700, 1, 5, 10);
  std::vector<TransferCase> cases = {
      {"linked_event_failed",
       TR::linked_event_failed,
       {linked(good), transfer(701, 1, 5, 0)},
       {TR::linked_event_failed, TR::amount_must_be_positive}},
      {"linked_event_chain_open",
       TR::linked_event_chain_open,
       {linked(good)},
       {TR::linked_event_chain_open}},
      {"reserved_flag",
       TR::reserved_flag,
       {with(good, [](Transfer& t) { t.flags = 1 << 4; })},
       {TR::reserved_flag}},
      {"reserved_field",
       TR::reserved_field,
       {with(good, [](Transfer& t) { t.reserved = 1; })},
       {TR::reserved_field}},
      {"id_must_not_be_zero",
       TR::id_must_not_be_zero,
       {with(good, [](Transfer& t) { t.id = 0; })},
       {TR::id_must_not_be_zero}},
      {"id_must_not_be_max",
       TR::id_must_not_be_max,
       {with(good, [](Transfer& t) { t.id = id_max; })},
       {TR::id_must_not_be_max}},
      {"flags_are_mutually_exclusive",
       TR::flags_are_mutually_exclusive,
       {with(post(700, 500), [](Transfer& t) { t.flags |= transfer_void_pending; })},
       {TR::flags_are_mutually_exclusive}},
      {"pending_id_must_be_zero",
       TR::pending_id_must_be_zero,
       {with(good, [](Transfer& t) { t.pending_id = 500; })},
       {TR::pending_id_must_be_zero}},
      {"pending_id_must_not_be_zero",
       TR::pending_id_must_not_be_zero,
       {post(700, 0)},
       {TR::pending_id_must_not_be_zero}},
      {"pending_id_must_not_be_max",
       TR::pending_id_must_not_be_max,
       {void_hold(700, id_max)},
       {TR::pending_id_must_not_be_max}},
      {"pending_id_must_be_different",
       TR::pending_id_must_be_different,
       {post(700, 700)},
       {TR::pending_id_must_be_different}},
      {"timeout_reserved_for_pending_transfer",
       TR::timeout_reserved_for_pending_transfer,
       {with(good, [](Transfer& t) { t.timeout_s = 1; })},
       {TR::timeout_reserved_for_pending_transfer}},
      {"timeout_reserved_for_pending_transfer_on_post",
       TR::timeout_reserved_for_pending_transfer,
       {with(post(700, 500), [](Transfer& t) { t.timeout_s = 1; })},
       {TR::timeout_reserved_for_pending_transfer}},
      {"amount_must_be_positive",
       TR::amount_must_be_positive,
       {with(good, [](Transfer& t) { t.amount = 0; })},
       {TR::amount_must_be_positive}},
      {"amount_must_be_positive_negative",
       TR::amount_must_be_positive,
       {hold(700, 1, 5, -1)},
       {TR::amount_must_be_positive}},
      {"amount_must_not_be_negative",
       TR::amount_must_not_be_negative,
       {post(700, 500, -1)},
       {TR::amount_must_not_be_negative}},
      {"debit_account_id_must_not_be_zero",
       TR::debit_account_id_must_not_be_zero,
       {transfer(700, 0, 5, 10)},
       {TR::debit_account_id_must_not_be_zero}},
      {"credit_account_id_must_not_be_zero",
       TR::credit_account_id_must_not_be_zero,
       {transfer(700, 1, 0, 10)},
       {TR::credit_account_id_must_not_be_zero}},
      {"accounts_must_be_different",
       TR::accounts_must_be_different,
       {transfer(700, 1, 1, 10)},
       {TR::accounts_must_be_different}},
      {"ledger_must_not_be_zero",
       TR::ledger_must_not_be_zero,
       {with(good, [](Transfer& t) { t.ledger = 0; })},
       {TR::ledger_must_not_be_zero}},
      {"code_must_not_be_zero",
       TR::code_must_not_be_zero,
       {with(good, [](Transfer& t) { t.code = 0; })},
       {TR::code_must_not_be_zero}},
      {"exists_with_different_fields",
       TR::exists_with_different_fields,
       {transfer(600, 1, 2, 999)},
       {TR::exists_with_different_fields}},
      {"exists_with_different_user_data",
       TR::exists_with_different_fields,
       {with(transfer(600, 1, 2, 1000), [](Transfer& t) { t.user_data = 1; })},
       {TR::exists_with_different_fields}},
      {"exists", TR::exists, {transfer(600, 1, 2, 1000)}, {TR::exists}},
      {"debit_account_not_found",
       TR::debit_account_not_found,
       {transfer(700, 77, 5, 10)},
       {TR::debit_account_not_found}},
      {"credit_account_not_found",
       TR::credit_account_not_found,
       {transfer(700, 1, 77, 10)},
       {TR::credit_account_not_found}},
      {"accounts_must_have_the_same_ledger",
       TR::accounts_must_have_the_same_ledger,
       {transfer(700, 1, 9, 10)},
       {TR::accounts_must_have_the_same_ledger}},
      {"transfer_must_have_the_same_ledger_as_accounts",
       TR::transfer_must_have_the_same_ledger_as_accounts,
       {with(good, [](Transfer& t) { t.ledger = 2; })},
       {TR::transfer_must_have_the_same_ledger_as_accounts}},
      {"pending_transfer_not_found",
       TR::pending_transfer_not_found,
       {post(700, 777)},
       {TR::pending_transfer_not_found}},
      {"pending_transfer_not_pending",
       TR::pending_transfer_not_pending,
       {post(700, 600)},
       {TR::pending_transfer_not_pending}},
      {"pending_transfer_has_different_debit_account_id",
       TR::pending_transfer_has_different_debit_account_id,
       {with(post(700, 500), [](Transfer& t) { t.debit_account_id = 1; })},
       {TR::pending_transfer_has_different_debit_account_id}},
      {"pending_transfer_has_different_credit_account_id",
       TR::pending_transfer_has_different_credit_account_id,
       {with(void_hold(700, 500), [](Transfer& t) { t.credit_account_id = 1; })},
       {TR::pending_transfer_has_different_credit_account_id}},
      {"pending_transfer_has_different_ledger",
       TR::pending_transfer_has_different_ledger,
       {with(post(700, 500), [](Transfer& t) { t.ledger = 2; })},
       {TR::pending_transfer_has_different_ledger}},
      {"pending_transfer_has_different_code",
       TR::pending_transfer_has_different_code,
       {with(post(700, 500), [](Transfer& t) { t.code = 2; })},
       {TR::pending_transfer_has_different_code}},
      {"exceeds_pending_transfer_amount",
       TR::exceeds_pending_transfer_amount,
       {post(700, 500, 101)},
       {TR::exceeds_pending_transfer_amount}},
      {"pending_transfer_has_different_amount",
       TR::pending_transfer_has_different_amount,
       {void_hold(700, 500, 99)},
       {TR::pending_transfer_has_different_amount}},
      {"pending_transfer_already_posted",
       TR::pending_transfer_already_posted,
       {void_hold(700, 501)},
       {TR::pending_transfer_already_posted}},
      {"pending_transfer_already_voided",
       TR::pending_transfer_already_voided,
       {post(700, 502)},
       {TR::pending_transfer_already_voided}},
      {"pending_transfer_expired",
       TR::pending_transfer_expired,
       {post(700, 503)},
       {TR::pending_transfer_expired}},
      // Overflows need accounts without a balance constraint: a constrained account runs into
      // exceeds_credits/exceeds_debits long before its totals approach 2^63.
      {"overflows_debits_pending",
       TR::overflows_debits_pending,
       {hold(700, 20, 22, 11)},
       {TR::overflows_debits_pending},
       [](LedgerTest& test) { near_max(test, true); }},
      {"overflows_credits_pending",
       TR::overflows_credits_pending,
       {hold(700, 22, 21, 11)},
       {TR::overflows_credits_pending},
       [](LedgerTest& test) { near_max(test, true); }},
      {"overflows_debits_posted",
       TR::overflows_debits_posted,
       {transfer(700, 20, 22, 11)},
       {TR::overflows_debits_posted},
       [](LedgerTest& test) { near_max(test, false); }},
      {"overflows_credits_posted",
       TR::overflows_credits_posted,
       {transfer(700, 22, 21, 11)},
       {TR::overflows_credits_posted},
       [](LedgerTest& test) { near_max(test, false); }},
      // Pending and posted each fit on their own; only their sum overflows.
      {"overflows_debits",
       TR::overflows_debits,
       {hold(700, 20, 22, 11)},
       {TR::overflows_debits},
       [](LedgerTest& test) { near_max(test, false); }},
      {"overflows_credits",
       TR::overflows_credits,
       {hold(700, 22, 21, 11)},
       {TR::overflows_credits},
       [](LedgerTest& test) { near_max(test, false); }},
      {"overflows_credits_after_a_hold",
       TR::overflows_credits,
       {transfer(700, 22, 21, 11)},
       {TR::overflows_credits},
       [](LedgerTest& test) { near_max(test, true); }},
      // Stamped 5 s minus 1 ns before the end of time, a 5 s hold cannot record its expiry.
      {"overflows_timeout",
       TR::overflows_timeout,
       {hold(700, 1, 5, 10, 5)},
       {TR::overflows_timeout},
       [](LedgerTest& test) { test.now_ = id_max - 5 * ns_per_s + 1; }},
      {"exceeds_credits", TR::exceeds_credits, {transfer(700, 2, 5, 851)}, {TR::exceeds_credits}},
      {"exceeds_credits_by_a_hold",
       TR::exceeds_credits,
       {hold(700, 2, 5, 851)},
       {TR::exceeds_credits}},
      {"exceeds_debits", TR::exceeds_debits, {transfer(700, 1, 3, 1)}, {TR::exceeds_debits}},
      // transfers_full has no case: it needs transfers_max (2^30) resident transfers, ~80 GiB.
  };
  return cases;
}

class TransferCodeTest : public LedgerTest, public ::testing::WithParamInterface<TransferCase> {};

TEST_P(TransferCodeTest, provokes_its_code_and_changes_nothing) {
  const TransferCase& c = GetParam();
  ASSERT_NE(std::find(c.expected.begin(), c.expected.end(), c.code), c.expected.end());
  build_world();
  if (c.setup) c.setup(*this);
  ASSERT_FALSE(HasFatalFailure());
  const Snapshot before = snapshot();
  EXPECT_EQ(create_transfers(c.batch), c.expected);
  expect_unchanged_since(before);
}

INSTANTIATE_TEST_SUITE_P(every_code, TransferCodeTest, ::testing::ValuesIn(transfer_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(TransferCodes, every_code_has_a_case) {
  std::set<TR> covered = {TR::ok};  // ok: every successful scenario in this file asserts it
  for (const TransferCase& c : transfer_cases()) covered.insert(c.code);
  // Needs transfers_max (2^30) resident transfers: about 80 GiB, beyond any unit test.
  const std::set<TR> unreachable_here = {TR::transfers_full};
  for (int code = 0; code < create_transfer_result_count; ++code) {
    const TR result = static_cast<TR>(code);
    EXPECT_TRUE(covered.contains(result) || unreachable_here.contains(result)) << name(result);
  }
}

struct AccountCase {
  std::string name;
  AR code;
  std::vector<AccountSpec> batch;
  std::vector<AR> expected;
};

AccountSpec with(AccountSpec a, const std::function<void(AccountSpec&)>& change) {
  change(a);
  return a;
}

std::vector<AccountCase> account_cases() {
  const AccountSpec good = account(30);
  return {
      {"linked_event_failed",
       AR::linked_event_failed,
       {linked(good), with(account(31), [](AccountSpec& a) { a.code = 0; })},
       {AR::linked_event_failed, AR::code_must_not_be_zero}},
      {"linked_event_chain_open",
       AR::linked_event_chain_open,
       {good, linked(account(31))},
       {AR::ok, AR::linked_event_chain_open}},
      {"reserved_flag",
       AR::reserved_flag,
       {with(good, [](AccountSpec& a) { a.flags = 1 << 3; })},
       {AR::reserved_flag}},
      {"id_must_not_be_zero", AR::id_must_not_be_zero, {account(0)}, {AR::id_must_not_be_zero}},
      {"id_must_not_be_max", AR::id_must_not_be_max, {account(id_max)}, {AR::id_must_not_be_max}},
      {"flags_are_mutually_exclusive",
       AR::flags_are_mutually_exclusive,
       {account(30,
                account_debits_must_not_exceed_credits | account_credits_must_not_exceed_debits)},
       {AR::flags_are_mutually_exclusive}},
      {"credit_limit_must_not_be_negative",
       AR::credit_limit_must_not_be_negative,
       {account(30, account_debits_must_not_exceed_credits, -1)},
       {AR::credit_limit_must_not_be_negative}},
      {"credit_limit_requires_debit_constraint",
       AR::credit_limit_requires_debit_constraint,
       {account(30, account_credits_must_not_exceed_debits, 1)},
       {AR::credit_limit_requires_debit_constraint}},
      {"ledger_must_not_be_zero",
       AR::ledger_must_not_be_zero,
       {account(30, 0, 0, 0)},
       {AR::ledger_must_not_be_zero}},
      {"code_must_not_be_zero",
       AR::code_must_not_be_zero,
       {with(good, [](AccountSpec& a) { a.code = 0; })},
       {AR::code_must_not_be_zero}},
      {"exists_with_different_fields",
       AR::exists_with_different_fields,
       {with(account(1), [](AccountSpec& a) { a.owner = 8; })},
       {AR::exists_with_different_fields}},
      {"exists_with_different_flags",
       AR::exists_with_different_fields,
       {account(2)},
       {AR::exists_with_different_fields}},
      {"exists", AR::exists, {account(1)}, {AR::exists}},
      // accounts_full has no case: it needs accounts_max (2^28) accounts, ~20 GiB.
  };
}

class AccountCodeTest : public LedgerTest, public ::testing::WithParamInterface<AccountCase> {};

TEST_P(AccountCodeTest, provokes_its_code_and_changes_nothing) {
  const AccountCase& c = GetParam();
  ASSERT_NE(std::find(c.expected.begin(), c.expected.end(), c.code), c.expected.end());
  build_world();
  const Snapshot before = snapshot();
  const std::vector<AR> results = create_accounts(c.batch);
  EXPECT_EQ(results, c.expected);
  if (std::count(results.begin(), results.end(), AR::ok) == 0) {
    expect_unchanged_since(before);
  } else {
    // The chain-open case creates the unlinked account before it, and only that one.
    EXPECT_EQ(ledger_.accounts().size(), before.accounts.size() + 1);
    EXPECT_EQ(ledger_.find_account(31), nullptr);
  }
}

INSTANTIATE_TEST_SUITE_P(every_code, AccountCodeTest, ::testing::ValuesIn(account_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(AccountCodes, every_code_has_a_case) {
  std::set<AR> covered = {AR::ok};  // ok: every scenario that creates accounts asserts it
  for (const AccountCase& c : account_cases()) covered.insert(c.code);
  // Needs accounts_max (2^28) accounts: about 20 GiB, beyond any unit test.
  const std::set<AR> unreachable_here = {AR::accounts_full};
  for (int code = 0; code < create_account_result_count; ++code) {
    const AR result = static_cast<AR>(code);
    EXPECT_TRUE(covered.contains(result) || unreachable_here.contains(result)) << name(result);
  }
}

// When an event breaks several rules, the one listed first in result.h is reported.
TEST_F(LedgerTest, reports_the_first_broken_rule_in_precedence_order) {
  ASSERT_EQ(create_accounts({account(1), account(2)}), std::vector<AR>(2, AR::ok));
  Transfer t = transfer(0, 0, 0, 0);
  t.reserved = 1;
  t.flags = 1 << 9;
  EXPECT_EQ(create_transfer(t), TR::reserved_flag);
  t.flags = 0;
  EXPECT_EQ(create_transfer(t), TR::reserved_field);
  t.reserved = 0;
  EXPECT_EQ(create_transfer(t), TR::id_must_not_be_zero);
  t.id = 10;
  EXPECT_EQ(create_transfer(t), TR::amount_must_be_positive);
  t.amount = 5;
  EXPECT_EQ(create_transfer(t), TR::debit_account_id_must_not_be_zero);
  t = transfer(10, 1, 1, 5);
  t.ledger = 0;
  EXPECT_EQ(create_transfer(t), TR::accounts_must_be_different);
  // Unknown accounts are only looked up once the fields are valid.
  EXPECT_EQ(create_transfer(transfer(10, 77, 78, 5)), TR::debit_account_not_found);
  // A wallet with nothing in it, on a transfer that also names the wrong ledger: ledger first.
  ASSERT_EQ(create_account(wallet(3)), AR::ok);
  t = transfer(10, 3, 1, 5);
  t.ledger = 2;
  EXPECT_EQ(create_transfer(t), TR::transfer_must_have_the_same_ledger_as_accounts);
  EXPECT_EQ(create_account(with(account(0, 0, 0, 0), [](AccountSpec& a) { a.code = 0; })),
            AR::id_must_not_be_zero);
  EXPECT_EQ(create_account(account(4, 0, -1, 0)), AR::credit_limit_must_not_be_negative);
}

// ---------------------------------------------------------------------------------------------
// Holds: pending -> posted (full or partial), voided or expired.

TEST_F(LedgerTest, post_with_amount_zero_posts_the_whole_hold) {
  ASSERT_EQ(create_accounts({account(1), account(2)}), std::vector<AR>(2, AR::ok));
  ASSERT_EQ(create_transfer(hold(10, 1, 2, 100)), TR::ok);
  EXPECT_EQ(balances(1), (Four{100, 0, 0, 0}));
  EXPECT_EQ(balances(2), (Four{0, 0, 100, 0}));
  EXPECT_EQ(status(10), PendingStatus::pending);

  ASSERT_EQ(create_transfer(post(11, 10)), TR::ok);
  EXPECT_EQ(balances(1), (Four{0, 100, 0, 0}));
  EXPECT_EQ(balances(2), (Four{0, 0, 0, 100}));
  EXPECT_EQ(status(10), PendingStatus::posted);
  // The post is kept as applied: the fields it left zero are the hold's.
  const TransferRecord* applied = ledger_.find_transfer(11);
  ASSERT_NE(applied, nullptr);
  EXPECT_EQ(applied->status, PendingStatus::none);
  EXPECT_EQ(applied->transfer.debit_account_id, 1u);
  EXPECT_EQ(applied->transfer.credit_account_id, 2u);
  EXPECT_EQ(applied->transfer.amount, 100);
  EXPECT_EQ(applied->transfer.ledger, 1u);
  EXPECT_EQ(applied->transfer.code, 1u);
  EXPECT_EQ(applied->transfer.pending_id, 10u);
}

TEST_F(LedgerTest, partial_post_posts_part_and_releases_the_rest) {
  ASSERT_EQ(create_accounts({wallet(1), account(2), account(3)}), std::vector<AR>(3, AR::ok));
  ASSERT_EQ(create_transfer(transfer(5, 3, 1, 100)), TR::ok);
  ASSERT_EQ(create_transfer(hold(10, 1, 2, 100)), TR::ok);
  // The whole balance is held: nothing else can leave the wallet.
  EXPECT_EQ(create_transfer(transfer(6, 1, 3, 1)), TR::exceeds_credits);

  ASSERT_EQ(create_transfer(post(11, 10, 30)), TR::ok);
  EXPECT_EQ(balances(1), (Four{0, 30, 0, 100}));
  EXPECT_EQ(balances(2), (Four{0, 0, 0, 30}));
  EXPECT_EQ(status(10), PendingStatus::posted);
  EXPECT_EQ(ledger_.find_transfer(11)->transfer.amount, 30);
  // The 70 not posted is spendable again, and not one fen more.
  EXPECT_EQ(create_transfer(transfer(7, 1, 3, 71)), TR::exceeds_credits);
  EXPECT_EQ(create_transfer(transfer(8, 1, 3, 70)), TR::ok);
  // A hold is settled once.
  EXPECT_EQ(create_transfer(post(12, 10, 10)), TR::pending_transfer_already_posted);
}

TEST_F(LedgerTest, post_of_exactly_the_held_amount_is_a_full_post) {
  ASSERT_EQ(create_accounts({account(1), account(2)}), std::vector<AR>(2, AR::ok));
  ASSERT_EQ(create_transfer(hold(10, 1, 2, 100)), TR::ok);
  Transfer full = post(11, 10, 100);
  full.debit_account_id = 1;
  full.credit_account_id = 2;
  full.ledger = 1;
  full.code = 1;
  ASSERT_EQ(create_transfer(full), TR::ok);
  EXPECT_EQ(balances(1), (Four{0, 100, 0, 0}));
  EXPECT_EQ(balances(2), (Four{0, 0, 0, 100}));
}

TEST_F(LedgerTest, void_releases_the_hold) {
  ASSERT_EQ(create_accounts({account(1), account(2)}), std::vector<AR>(2, AR::ok));
  ASSERT_EQ(create_transfers({hold(10, 1, 2, 100), hold(20, 1, 2, 40)}),
            std::vector<TR>(2, TR::ok));
  ASSERT_EQ(create_transfer(void_hold(11, 10)), TR::ok);
  EXPECT_EQ(balances(1), (Four{40, 0, 0, 0}));
  EXPECT_EQ(balances(2), (Four{0, 0, 40, 0}));
  EXPECT_EQ(status(10), PendingStatus::voided);
  EXPECT_EQ(ledger_.find_transfer(11)->transfer.amount, 100);
  // A void may name the whole amount, never a part of it.
  EXPECT_EQ(create_transfer(void_hold(21, 20, 39)), TR::pending_transfer_has_different_amount);
  EXPECT_EQ(create_transfer(void_hold(21, 20, 40)), TR::ok);
  EXPECT_EQ(balances(1), (Four{0, 0, 0, 0}));
}

TEST_F(LedgerTest, a_settled_hold_cannot_be_settled_again) {
  ASSERT_EQ(create_accounts({account(1), account(2)}), std::vector<AR>(2, AR::ok));
  ASSERT_EQ(create_transfers({hold(10, 1, 2, 100), hold(20, 1, 2, 100)}),
            std::vector<TR>(2, TR::ok));
  ASSERT_EQ(create_transfers({post(11, 10), void_hold(21, 20)}), std::vector<TR>(2, TR::ok));
  const Snapshot before = snapshot();
  EXPECT_EQ(
      create_transfers({post(12, 10), void_hold(13, 10), post(22, 20), void_hold(23, 20)}),
      (std::vector<TR>{TR::pending_transfer_already_posted, TR::pending_transfer_already_posted,
                       TR::pending_transfer_already_voided, TR::pending_transfer_already_voided}));
  expect_unchanged_since(before);
}

TEST_F(LedgerTest, hold_expires_exactly_at_its_timeout_and_not_a_nanosecond_earlier) {
  ASSERT_EQ(create_accounts({wallet(1), account(2)}), std::vector<AR>(2, AR::ok));
  ASSERT_EQ(create_transfer(transfer(5, 2, 1, 100)), TR::ok);
  const std::uint64_t created = now_;
  ASSERT_EQ(create_transfer(hold(10, 1, 2, 100, 3)), TR::ok);
  const std::uint64_t deadline = created + 3 * ns_per_s;
  EXPECT_EQ(expires_at(*ledger_.find_transfer(10)), deadline);
  EXPECT_EQ(ledger_.next_expiry(), deadline);

  EXPECT_EQ(ledger_.expire(deadline - 1), 0u);
  EXPECT_EQ(status(10), PendingStatus::pending);
  EXPECT_EQ(balances(1), (Four{100, 0, 0, 100}));

  EXPECT_EQ(ledger_.expire(deadline), 1u);
  EXPECT_EQ(status(10), PendingStatus::expired);
  EXPECT_EQ(balances(1), (Four{0, 0, 0, 100}));
  EXPECT_EQ(balances(2), (Four{0, 100, 0, 0}));
  EXPECT_EQ(ledger_.next_expiry(), std::nullopt);
  EXPECT_EQ(ledger_.expire(deadline + 100 * ns_per_s), 0u);

  // The released funds are spendable again, and the hold can no longer be settled.
  now_ = deadline + 1;
  const Snapshot before = snapshot();
  EXPECT_EQ(create_transfers({post(11, 10), void_hold(12, 10), post(13, 10, 50)}),
            std::vector<TR>(3, TR::pending_transfer_expired));
  expect_unchanged_since(before);
  EXPECT_EQ(create_transfer(transfer(14, 1, 2, 100)), TR::ok);
}

// A hold is expired for any event stamped at or after its deadline, even before expire() has run
// for that instant: an event late in a batch is stamped after the time expire() was called with.
TEST_F(LedgerTest, hold_cannot_be_settled_at_or_after_its_deadline_before_expire_runs) {
  ASSERT_EQ(create_accounts({account(1), account(2)}), std::vector<AR>(2, AR::ok));
  const std::uint64_t created = now_;
  // Stamped `created` + 0, 1 and 2, so their deadlines are one nanosecond apart.
  ASSERT_EQ(
      create_transfers({hold(10, 1, 2, 100, 1), hold(20, 1, 2, 100, 1), hold(30, 1, 2, 100, 1)}),
      std::vector<TR>(3, TR::ok));
  const std::uint64_t deadline = created + ns_per_s;  // of hold 10
  now_ = deadline - 1;
  // Stamped 2 ns before the deadline of 20, at the deadline of 10, 1 ns before that of 30.
  EXPECT_EQ(create_transfers({post(21, 20), post(11, 10), void_hold(31, 30)}),
            (std::vector<TR>{TR::ok, TR::pending_transfer_expired, TR::ok}));
  EXPECT_EQ(status(20), PendingStatus::posted);
  EXPECT_EQ(status(10), PendingStatus::pending);
  EXPECT_EQ(status(30), PendingStatus::voided);
  EXPECT_EQ(ledger_.expire(now_), 1u);
  EXPECT_EQ(status(10), PendingStatus::expired);
  EXPECT_EQ(balances(1), (Four{0, 100, 0, 0}));
}

TEST_F(LedgerTest, settled_holds_do_not_expire_later) {
  ASSERT_EQ(create_accounts({account(1), account(2)}), std::vector<AR>(2, AR::ok));
  const std::uint64_t created = now_;
  ASSERT_EQ(create_transfers({hold(10, 1, 2, 100, 1), hold(20, 1, 2, 50, 2), hold(30, 1, 2, 7, 3),
                              hold(40, 1, 2, 5)}),
            std::vector<TR>(4, TR::ok));
  ASSERT_EQ(create_transfers({post(11, 10, 60), void_hold(21, 20)}), std::vector<TR>(2, TR::ok));
  // Settled holds leave the expiry order; a hold without timeout never enters it.
  EXPECT_EQ(ledger_.next_expiry(), created + 2 + 3 * ns_per_s);
  EXPECT_EQ(ledger_.expire(created + 100 * ns_per_s), 1u);
  EXPECT_EQ(status(10), PendingStatus::posted);
  EXPECT_EQ(status(20), PendingStatus::voided);
  EXPECT_EQ(status(30), PendingStatus::expired);
  EXPECT_EQ(status(40), PendingStatus::pending);
  EXPECT_EQ(balances(1), (Four{5, 60, 0, 0}));
  EXPECT_EQ(ledger_.next_expiry(), std::nullopt);
}

TEST_F(LedgerTest, expire_releases_every_due_hold_and_only_those) {
  ASSERT_EQ(create_accounts({account(1), account(2), account(3)}), std::vector<AR>(3, AR::ok));
  const std::uint64_t created = now_;
  ASSERT_EQ(create_transfers({hold(10, 1, 2, 1, 5), hold(20, 1, 3, 2, 1), hold(30, 3, 2, 4, 2),
                              hold(40, 2, 1, 8, 9)}),
            std::vector<TR>(4, TR::ok));
  EXPECT_EQ(ledger_.next_expiry(), created + 1 + ns_per_s);
  EXPECT_EQ(ledger_.expire(created + 5 * ns_per_s), 3u);  // 20, 30 and 10, which is due at it
  EXPECT_EQ(status(40), PendingStatus::pending);
  EXPECT_EQ(balances(1), (Four{0, 0, 8, 0}));
  EXPECT_EQ(balances(2), (Four{8, 0, 0, 0}));
  EXPECT_EQ(balances(3), (Four{0, 0, 0, 0}));
  EXPECT_EQ(ledger_.next_expiry(), created + 3 + 9 * ns_per_s);
}

// ---------------------------------------------------------------------------------------------
// Linked chains.

TEST_F(LedgerTest, failing_event_in_a_chain_rolls_back_the_events_before_it) {
  build_world();
  const Snapshot before = snapshot();
  // Each earlier event touches a different kind of state: balances, a new hold with a timeout,
  // the settlement of an existing hold; the failing one spends more than the wallet holds.
  const std::vector<TR> results = create_transfers(
      {linked(transfer(700, 1, 2, 50)), linked(hold(701, 2, 5, 20, 1)), linked(post(702, 500, 60)),
       linked(transfer(703, 2, 5, 10'000)), transfer(704, 1, 5, 1)});
  EXPECT_EQ(results, (std::vector<TR>{TR::linked_event_failed, TR::linked_event_failed,
                                      TR::linked_event_failed, TR::exceeds_credits,
                                      TR::linked_event_failed}));
  expect_unchanged_since(before);
  for (std::uint64_t id : {700, 701, 702, 703, 704}) EXPECT_EQ(ledger_.find_transfer(id), nullptr);
  EXPECT_EQ(status(500), PendingStatus::pending);
  // The rolled-back hold left no expiry behind, and its id is free for a new transfer.
  EXPECT_EQ(ledger_.expire(now_ + 10 * ns_per_s), 0u);
  EXPECT_EQ(create_transfer(transfer(701, 1, 5, 1)), TR::ok);
}

TEST_F(LedgerTest, chain_sees_its_own_earlier_events) {
  ASSERT_EQ(create_accounts({account(1), wallet(2), account(3)}), std::vector<AR>(3, AR::ok));
  // A checkout: fund the wallet, then spend it, as one.
  EXPECT_EQ(
      create_transfers({linked(transfer(10, 1, 2, 80)), linked(hold(11, 2, 3, 80)), post(12, 11)}),
      std::vector<TR>(3, TR::ok));
  EXPECT_EQ(balances(2), (Four{0, 80, 0, 80}));
  EXPECT_EQ(balances(3), (Four{0, 0, 0, 80}));
  EXPECT_EQ(history_.size(), 3u);
}

TEST_F(LedgerTest, chain_left_open_at_the_end_of_the_batch_is_rolled_back) {
  ASSERT_EQ(create_accounts({account(1), account(2)}), std::vector<AR>(2, AR::ok));
  EXPECT_EQ(create_transfers({transfer(10, 1, 2, 5), linked(transfer(11, 1, 2, 6)),
                              linked(transfer(12, 1, 2, 7))}),
            (std::vector<TR>{TR::ok, TR::linked_event_failed, TR::linked_event_chain_open}));
  EXPECT_EQ(balances(1), (Four{0, 5, 0, 0}));
  EXPECT_EQ(ledger_.find_transfer(11), nullptr);
  EXPECT_EQ(ledger_.find_transfer(12), nullptr);
  EXPECT_EQ(history_.size(), 1u);
}

TEST_F(LedgerTest, only_the_failing_chain_of_a_batch_is_rolled_back) {
  ASSERT_EQ(create_accounts({account(1), wallet(2), account(3)}), std::vector<AR>(3, AR::ok));
  EXPECT_EQ(create_transfers({linked(transfer(10, 1, 2, 30)), transfer(11, 2, 3, 30),
                              linked(transfer(20, 1, 2, 30)), linked(transfer(21, 2, 3, 31)),
                              transfer(22, 1, 3, 1), transfer(30, 1, 3, 2)}),
            (std::vector<TR>{TR::ok, TR::ok, TR::linked_event_failed, TR::exceeds_credits,
                             TR::linked_event_failed, TR::ok}));
  EXPECT_EQ(balances(1), (Four{0, 32, 0, 0}));
  EXPECT_EQ(balances(2), (Four{0, 30, 0, 30}));
  EXPECT_EQ(balances(3), (Four{0, 0, 0, 32}));
  EXPECT_EQ(ledger_.find_transfer(20), nullptr);
}

// A retry of an applied event is not "ok", so it fails a chain like any other rejection.
TEST_F(LedgerTest, exists_inside_a_chain_fails_the_chain) {
  ASSERT_EQ(create_accounts({account(1), account(2)}), std::vector<AR>(2, AR::ok));
  ASSERT_EQ(create_transfer(transfer(10, 1, 2, 5)), TR::ok);
  EXPECT_EQ(create_transfers({linked(transfer(11, 1, 2, 6)), transfer(10, 1, 2, 5)}),
            (std::vector<TR>{TR::linked_event_failed, TR::exists}));
  EXPECT_EQ(ledger_.find_transfer(11), nullptr);
}

TEST_F(LedgerTest, chain_of_accounts_is_created_as_one) {
  EXPECT_EQ(create_accounts({linked(account(1)), linked(wallet(2)), account(3)}),
            std::vector<AR>(3, AR::ok));
  EXPECT_EQ(ledger_.accounts().size(), 3u);
  const Snapshot before = snapshot();
  // The third event collides with the first account of its own chain.
  EXPECT_EQ(create_accounts({linked(account(4)), linked(account(5)), wallet(4), account(6)}),
            (std::vector<AR>{AR::linked_event_failed, AR::linked_event_failed,
                             AR::exists_with_different_fields, AR::ok}));
  EXPECT_EQ(ledger_.find_account(4), nullptr);
  EXPECT_EQ(ledger_.find_account(5), nullptr);
  ASSERT_NE(ledger_.find_account(6), nullptr);
  EXPECT_EQ(ledger_.accounts().size(), before.accounts.size() + 1);
  // The ids rolled back are free again.
  EXPECT_EQ(create_accounts({wallet(4), account(5)}), std::vector<AR>(2, AR::ok));
}

// A hold created in a rolled-back chain must not leave a stale expiry behind that next_expiry()
// reports in place of the deadline of a new hold with the same id.
TEST_F(LedgerTest, next_expiry_ignores_holds_of_a_rolled_back_chain) {
  ASSERT_EQ(create_accounts({account(1), account(2)}), std::vector<AR>(2, AR::ok));
  ASSERT_EQ(create_transfers({linked(hold(10, 1, 2, 100, 5)), transfer(11, 1, 2, 0)}),
            (std::vector<TR>{TR::linked_event_failed, TR::amount_must_be_positive}));
  // The same id again, one second later, in the same slot.
  advance_s(1);
  const std::uint64_t created = now_;
  ASSERT_EQ(create_transfer(hold(10, 1, 2, 100, 5)), TR::ok);
  EXPECT_EQ(ledger_.next_expiry(), created + 5 * ns_per_s);
  EXPECT_EQ(ledger_.expire(created + 5 * ns_per_s - 1), 0u);
  EXPECT_EQ(ledger_.expire(created + 5 * ns_per_s), 1u);
}

// ---------------------------------------------------------------------------------------------
// Idempotency.

TEST_F(LedgerTest, retried_transfer_exists_and_changes_nothing) {
  ASSERT_EQ(create_accounts({account(1), account(2)}), std::vector<AR>(2, AR::ok));
  Transfer t = hold(10, 1, 2, 100, 60);
  t.user_data = 42;
  ASSERT_EQ(create_transfer(t), TR::ok);
  const Snapshot before = snapshot();
  EXPECT_EQ(create_transfer(t), TR::exists);
  expect_unchanged_since(before);
  for (const auto& change : std::vector<std::function<void(Transfer&)>>{
           [](Transfer& x) { x.amount = 101; }, [](Transfer& x) { x.user_data = 43; },
           [](Transfer& x) { x.timeout_s = 61; }, [](Transfer& x) { x.credit_account_id = 3; },
           [](Transfer& x) { x.code = 2; },
           [](Transfer& x) {
             x.flags = 0;
             x.timeout_s = 0;
           }}) {
    EXPECT_EQ(create_transfer(with(t, change)), TR::exists_with_different_fields);
  }
  expect_unchanged_since(before);
}

TEST_F(LedgerTest, retried_post_exists_with_fields_zero_or_filled_in) {
  ASSERT_EQ(create_accounts({account(1), account(2)}), std::vector<AR>(2, AR::ok));
  ASSERT_EQ(create_transfer(hold(10, 1, 2, 100)), TR::ok);
  ASSERT_EQ(create_transfer(post(11, 10, 30)), TR::ok);
  const Snapshot before = snapshot();
  EXPECT_EQ(create_transfer(post(11, 10, 30)), TR::exists);
  EXPECT_EQ(create_transfer(post(11, 10)), TR::exists);
  Transfer filled = post(11, 10, 30);
  filled.debit_account_id = 1;
  filled.credit_account_id = 2;
  filled.ledger = 1;
  filled.code = 1;
  EXPECT_EQ(create_transfer(filled), TR::exists);
  EXPECT_EQ(create_transfer(post(11, 10, 31)), TR::exists_with_different_fields);
  EXPECT_EQ(create_transfer(void_hold(11, 10)), TR::exists_with_different_fields);
  EXPECT_EQ(create_transfer(with(filled, [](Transfer& t) { t.debit_account_id = 2; })),
            TR::exists_with_different_fields);
  expect_unchanged_since(before);

  ASSERT_EQ(create_transfer(hold(20, 1, 2, 100)), TR::ok);
  ASSERT_EQ(create_transfer(void_hold(21, 20)), TR::ok);
  EXPECT_EQ(create_transfer(void_hold(21, 20)), TR::exists);
  EXPECT_EQ(create_transfer(void_hold(21, 20, 100)), TR::exists);
}

TEST_F(LedgerTest, retried_account_exists_and_keeps_its_balances) {
  ASSERT_EQ(create_accounts({account(1), wallet(2)}), std::vector<AR>(2, AR::ok));
  ASSERT_EQ(create_transfer(transfer(10, 1, 2, 100)), TR::ok);
  const Snapshot before = snapshot();
  EXPECT_EQ(create_account(wallet(2)), AR::exists);
  for (const auto& change : std::vector<std::function<void(AccountSpec&)>>{
           [](AccountSpec& a) { a.owner = 1; }, [](AccountSpec& a) { a.user_data = 1; },
           [](AccountSpec& a) { a.credit_limit = 1; }, [](AccountSpec& a) { a.ledger = 2; },
           [](AccountSpec& a) { a.code = 11; }, [](AccountSpec& a) { a.flags = 0; }}) {
    EXPECT_EQ(create_account(with(wallet(2), change)), AR::exists_with_different_fields);
  }
  expect_unchanged_since(before);
  EXPECT_EQ(balances(2), (Four{0, 0, 0, 100}));
}

// ---------------------------------------------------------------------------------------------
// Balance constraints and overflow boundaries.

TEST_F(LedgerTest, credit_line_may_go_into_debt_up_to_its_limit_and_not_one_fen_more) {
  ASSERT_EQ(create_accounts({account(1), account(4, account_debits_must_not_exceed_credits, 100)}),
            std::vector<AR>(2, AR::ok));
  ASSERT_EQ(create_transfer(hold(10, 4, 1, 60)), TR::ok);
  // Held debits count against the limit.
  EXPECT_EQ(create_transfer(transfer(11, 4, 1, 41)), TR::exceeds_credits);
  EXPECT_EQ(create_transfer(transfer(11, 4, 1, 40)), TR::ok);
  EXPECT_EQ(create_transfer(hold(12, 4, 1, 1)), TR::exceeds_credits);
  // A repayment raises the room by exactly its amount.
  ASSERT_EQ(create_transfer(transfer(13, 1, 4, 25)), TR::ok);
  EXPECT_EQ(create_transfer(transfer(14, 4, 1, 26)), TR::exceeds_credits);
  EXPECT_EQ(create_transfer(transfer(14, 4, 1, 25)), TR::ok);
  EXPECT_EQ(balances(4), (Four{60, 65, 0, 25}));
  ASSERT_EQ(create_transfer(void_hold(15, 10)), TR::ok);
  EXPECT_EQ(create_transfer(transfer(16, 4, 1, 61)), TR::exceeds_credits);
  EXPECT_EQ(create_transfer(transfer(16, 4, 1, 60)), TR::ok);
}

TEST_F(LedgerTest, wallet_cannot_spend_credits_still_pending) {
  ASSERT_EQ(create_accounts({account(1), wallet(2), account(3)}), std::vector<AR>(3, AR::ok));
  ASSERT_EQ(create_transfer(hold(10, 1, 2, 50)), TR::ok);
  EXPECT_EQ(create_transfer(transfer(11, 2, 3, 1)), TR::exceeds_credits);
  ASSERT_EQ(create_transfer(post(12, 10)), TR::ok);
  EXPECT_EQ(create_transfer(transfer(11, 2, 3, 51)), TR::exceeds_credits);
  EXPECT_EQ(create_transfer(transfer(11, 2, 3, 50)), TR::ok);
  EXPECT_EQ(balances(2), (Four{0, 50, 0, 50}));
}

TEST_F(LedgerTest, credits_must_not_exceed_debits) {
  ASSERT_EQ(create_accounts({account(1), account(3, account_credits_must_not_exceed_debits)}),
            std::vector<AR>(2, AR::ok));
  EXPECT_EQ(create_transfer(transfer(10, 1, 3, 1)), TR::exceeds_debits);
  ASSERT_EQ(create_transfer(transfer(11, 3, 1, 100)), TR::ok);
  ASSERT_EQ(create_transfer(hold(12, 1, 3, 60)), TR::ok);
  // Held credits count; held debits would not.
  EXPECT_EQ(create_transfer(transfer(13, 1, 3, 41)), TR::exceeds_debits);
  EXPECT_EQ(create_transfer(transfer(13, 1, 3, 40)), TR::ok);
  EXPECT_EQ(create_transfer(hold(14, 1, 3, 1)), TR::exceeds_debits);
  ASSERT_EQ(create_transfer(hold(15, 3, 1, 10)), TR::ok);
  EXPECT_EQ(create_transfer(transfer(16, 1, 3, 1)), TR::exceeds_debits);
  EXPECT_EQ(balances(3), (Four{10, 100, 60, 40}));
}

TEST_F(LedgerTest, totals_may_reach_the_maximum_exactly) {
  ASSERT_EQ(create_accounts({account(1), account(2), account(3)}), std::vector<AR>(3, AR::ok));
  ASSERT_EQ(create_transfer(transfer(10, 1, 2, amount_max - 10)), TR::ok);
  EXPECT_EQ(create_transfer(hold(11, 1, 3, 11)), TR::overflows_debits);
  ASSERT_EQ(create_transfer(hold(11, 1, 3, 10)), TR::ok);
  EXPECT_EQ(balances(1), (Four{10, amount_max - 10, 0, 0}));
  // Posting moves the hold from pending to posted; the total stays at the maximum.
  ASSERT_EQ(create_transfer(post(12, 11)), TR::ok);
  EXPECT_EQ(balances(1), (Four{0, amount_max, 0, 0}));
  EXPECT_EQ(create_transfer(transfer(13, 1, 3, 1)), TR::overflows_debits_posted);
  // overflows_debits_posted / overflows_credits_posted on a post cannot happen: a hold's amount
  // is already counted in its accounts' totals, which never exceed the maximum, so posting it
  // cannot push the posted column past it. They are provoked by plain transfers above.
}

TEST_F(LedgerTest, timeout_may_end_exactly_at_the_last_timestamp) {
  ASSERT_EQ(create_accounts({account(1), account(2)}), std::vector<AR>(2, AR::ok));
  now_ = id_max - 5 * ns_per_s;
  ASSERT_EQ(create_transfer(hold(10, 1, 2, 1, 5)), TR::ok);
  EXPECT_EQ(ledger_.next_expiry(), id_max);
  EXPECT_EQ(create_transfer(hold(11, 1, 2, 1, 5)), TR::overflows_timeout);
  EXPECT_EQ(ledger_.expire(id_max), 1u);
}

// ---------------------------------------------------------------------------------------------
// History and restore.

TEST_F(LedgerTest, history_records_balances_after_each_change) {
  ASSERT_EQ(create_accounts({account(1), account(2)}), std::vector<AR>(2, AR::ok));
  const std::uint64_t t0 = now_;
  ASSERT_EQ(create_transfers({transfer(10, 1, 2, 100), hold(11, 2, 1, 30, 2), hold(12, 1, 2, 5),
                              post(13, 12, 4)}),
            std::vector<TR>(4, TR::ok));
  ASSERT_EQ(create_transfer(transfer(14, 1, 1, 1)), TR::accounts_must_be_different);
  ASSERT_EQ(history_.size(), 4u);
  EXPECT_EQ(history_[0].transfer.transfer.id, 10u);
  EXPECT_EQ(history_[0].timestamp, t0);
  EXPECT_EQ(history_[0].transfer.timestamp, t0);
  EXPECT_EQ(history_[0].expired, 0u);
  EXPECT_EQ(four(history_[0].debit_after), (Four{0, 100, 0, 0}));
  EXPECT_EQ(four(history_[0].credit_after), (Four{0, 0, 0, 100}));
  EXPECT_EQ(history_[1].transfer.transfer.id, 11u);
  EXPECT_EQ(history_[1].transfer.status, PendingStatus::pending);
  EXPECT_EQ(four(history_[1].debit_after), (Four{30, 0, 0, 100}));
  EXPECT_EQ(four(history_[1].credit_after), (Four{0, 100, 30, 0}));
  // The post's entry carries the post as applied and the balances with the rest released.
  EXPECT_EQ(history_[3].transfer.transfer.id, 13u);
  EXPECT_EQ(history_[3].transfer.transfer.amount, 4);
  EXPECT_EQ(history_[3].timestamp, t0 + 3);
  EXPECT_EQ(four(history_[3].debit_after), (Four{0, 104, 30, 0}));
  EXPECT_EQ(four(history_[3].credit_after), (Four{30, 0, 0, 104}));

  // A release is stamped when it happens (each release of one call its own instant), so no two
  // balance changes of an account share a timestamp and statements page exactly.
  history_.clear();
  EXPECT_EQ(ledger_.expire(t0 + 5 * ns_per_s), 1u);
  ASSERT_EQ(history_.size(), 1u);
  EXPECT_EQ(history_[0].transfer.transfer.id, 11u);
  EXPECT_EQ(history_[0].transfer.status, PendingStatus::expired);
  EXPECT_EQ(history_[0].expired, 1u);
  EXPECT_EQ(history_[0].timestamp, t0 + 5 * ns_per_s);
  EXPECT_EQ(four(history_[0].debit_after), (Four{0, 0, 0, 104}));
  EXPECT_EQ(four(history_[0].credit_after), (Four{0, 104, 0, 0}));
}

TEST_F(LedgerTest, restore_gives_the_same_state_and_the_same_behaviour) {
  build_world();
  const std::uint64_t created = now_;
  ASSERT_EQ(create_transfers({hold(700, 2, 5, 10, 4), hold(701, 1, 5, 20, 9), hold(702, 1, 5, 5, 9),
                              post(703, 702, 2)}),
            std::vector<TR>(4, TR::ok));

  Ledger copy;
  std::vector<HistoryEntry> copy_history;
  copy.set_history_sink(&copy_history);
  copy.restore({ledger_.accounts().begin(), ledger_.accounts().end()},
               {ledger_.transfers().begin(), ledger_.transfers().end()});
  EXPECT_EQ(copy.state_hash(), ledger_.state_hash());
  EXPECT_EQ(copy.check_invariants(), "");
  EXPECT_EQ(copy.next_expiry(), created + 4 * ns_per_s);
  EXPECT_EQ(copy.next_expiry(), ledger_.next_expiry());

  // Both release the same holds at the same instants, and agree on every later event.
  history_.clear();
  for (const std::uint64_t at :
       {created + 4 * ns_per_s - 1, created + 4 * ns_per_s, created + 10 * ns_per_s}) {
    EXPECT_EQ(copy.expire(at), ledger_.expire(at));
    EXPECT_EQ(copy.state_hash(), ledger_.state_hash());
  }
  EXPECT_EQ(copy.find_transfer(700)->status, PendingStatus::expired);
  EXPECT_EQ(copy.find_transfer(701)->status, PendingStatus::expired);
  ASSERT_EQ(copy_history.size(), 2u);
  ASSERT_EQ(history_.size(), 2u);
  EXPECT_EQ(std::memcmp(copy_history.data(), history_.data(), 2 * sizeof(HistoryEntry)), 0);

  now_ = created + 20 * ns_per_s;
  const std::vector<Transfer> batch = {
      transfer(600, 1, 2, 1000), post(704, 500, 10),     post(705, 701),
      transfer(706, 2, 5, 940),  transfer(707, 2, 5, 1), void_hold(708, 500)};
  std::vector<TR> copy_results(batch.size());
  copy.create_transfers(batch, now_, copy_results);
  const std::vector<TR> results = create_transfers(batch);
  EXPECT_EQ(results, (std::vector<TR>{TR::exists, TR::ok, TR::pending_transfer_expired, TR::ok,
                                      TR::exceeds_credits, TR::pending_transfer_already_posted}));
  EXPECT_EQ(copy_results, results);
  EXPECT_EQ(copy.state_hash(), ledger_.state_hash());
  EXPECT_EQ(copy.check_invariants(), "");
  EXPECT_TRUE(same_bytes(copy.accounts(), ledger_.accounts()));
  EXPECT_TRUE(same_bytes(copy.transfers(), ledger_.transfers()));
}

TEST_F(LedgerTest, state_hash_depends_on_every_change) {
  ASSERT_EQ(create_accounts({account(1), account(2)}), std::vector<AR>(2, AR::ok));
  std::set<std::uint64_t> seen = {0, ledger_.state_hash()};
  ASSERT_EQ(create_transfer(hold(10, 1, 2, 5)), TR::ok);
  EXPECT_TRUE(seen.insert(ledger_.state_hash()).second);
  ASSERT_EQ(create_transfer(post(11, 10)), TR::ok);
  EXPECT_TRUE(seen.insert(ledger_.state_hash()).second);
}

}  // namespace
}  // namespace capillary::ledger

namespace capillary::ledger {
namespace {

// Incremental checkpoints rewrite only the chunks listed here, so a change that is not listed
// would be lost from the next checkpoint.
TEST_F(LedgerTest, changed_chunks_list_every_touched_chunk_once) {
  std::vector<AccountSpec> accounts;
  for (std::uint64_t id = 1; id <= checkpoint_chunk_records + 10; ++id) accounts.push_back(account(id));
  create_accounts(accounts);
  auto changed = ledger_.take_changed_chunks();
  EXPECT_EQ(changed.accounts, (std::vector<std::uint32_t>{0, 1}));
  EXPECT_TRUE(changed.transfers.empty());
  changed = ledger_.take_changed_chunks();
  EXPECT_TRUE(changed.accounts.empty());

  // Slot 0 and the last slot: chunks 0 and 1 of accounts, chunk 0 of transfers. What copying
  // them takes is known before they are taken (the checkpoint's memory is warmed by it).
  EXPECT_EQ(ledger_.changed_bytes(), 0u);
  ASSERT_EQ(create_transfer(transfer(1, 1, checkpoint_chunk_records + 10, 5)), TR::ok);
  EXPECT_EQ(ledger_.changed_bytes(),
            checkpoint_chunk_records * (2 * sizeof(Account) + sizeof(TransferRecord)));
  changed = ledger_.take_changed_chunks();
  EXPECT_EQ(ledger_.changed_bytes(), 0u);
  EXPECT_EQ(changed.accounts, (std::vector<std::uint32_t>{0, 1}));
  EXPECT_EQ(changed.transfers, (std::vector<std::uint32_t>{0}));

  // Two accounts in chunk 0 only, and a hold's status change in transfer chunk 0.
  Transfer hold = transfer(2, 1, 2, 5);
  hold.flags = transfer_pending;
  ASSERT_EQ(create_transfer(hold), TR::ok);
  ledger_.take_changed_chunks();
  Transfer release = transfer(3, 0, 0, 0);
  release.flags = transfer_void_pending;
  release.pending_id = 2;
  release.ledger = 0;
  release.code = 0;
  ASSERT_EQ(create_transfer(release), TR::ok);
  changed = ledger_.take_changed_chunks();
  EXPECT_EQ(changed.accounts, (std::vector<std::uint32_t>{0}));
  EXPECT_EQ(changed.transfers, (std::vector<std::uint32_t>{0}));

  // A restored ledger starts with nothing changed.
  Ledger restored;
  restored.restore({ledger_.accounts().begin(), ledger_.accounts().end()},
                   {ledger_.transfers().begin(), ledger_.transfers().end()});
  changed = restored.take_changed_chunks();
  EXPECT_TRUE(changed.accounts.empty() && changed.transfers.empty());
}

}  // namespace
}  // namespace capillary::ledger
