#include "payments/payments.h"

#include <gtest/gtest.h>

#include <random>

#include "core/limits.h"
#include "payments/limits.h"
#include "payments/money.h"

namespace capillary::payments {
namespace {

constexpr std::uint64_t start_ns = 1'700'000'000ull * ns_per_s;
constexpr std::uint64_t platform = principal(PartyKind::platform, 0);
constexpr std::uint32_t channel = 7;

std::uint64_t as_user(std::uint64_t id) { return principal(PartyKind::user, id); }
std::uint64_t as_merchant(std::uint64_t id) { return principal(PartyKind::merchant, id); }

class PaymentsTest : public ::testing::Test {
 protected:
  // Applies one command as its own batch, after running what the clock made due, and checks every
  // invariant of the ledger and the module afterwards.
  Outcome run(Command command) {
    if (command.id == 0) command.id = next_id_++;
    now_ += payments_.advance(now_) + 1;
    Outcome out{};
    now_ += payments_.apply({&command, 1}, now_, {&out, 1}) + 1;
    EXPECT_EQ(ledger_.check_invariants(), "");
    EXPECT_EQ(payments_.check_invariants(), "");
    return out;
  }
  Result result_of(const Command& command) { return run(command).result; }
  void advance_to(std::uint64_t at) {
    now_ = std::max(now_, at);
    now_ += payments_.advance(now_) + 1;
    EXPECT_EQ(payments_.check_invariants(), "");
  }

  static Command command(CommandKind kind, std::uint64_t principal, std::uint64_t party) {
    Command c{};
    c.kind = kind;
    c.principal = principal;
    c.party = party;
    return c;
  }
  void open_user(std::uint64_t id) {
    ASSERT_EQ(result_of(command(CommandKind::open_user, platform, id)), Result::ok);
  }
  void open_merchant(std::uint64_t id, std::uint32_t fee_bps = fee_bps_default, std::uint32_t auto_confirm_s = 0) {
    Command c = command(CommandKind::open_merchant, platform, id);
    c.a = fee_bps;
    c.b = auto_confirm_s;
    ASSERT_EQ(result_of(c), Result::ok);
  }
  static BankAnswer bank(BankOutcome outcome, std::uint64_t reference = 99) {
    BankAnswer answer{};
    answer.channel = channel;
    answer.outcome = outcome;
    answer.reference = reference;
    return answer;
  }
  Result top_up(std::uint64_t user, std::int64_t amount, BankOutcome outcome = BankOutcome::approved) {
    Command c = command(CommandKind::top_up, as_user(user), user);
    c.amount = amount;
    c.bank = bank(outcome);
    return result_of(c);
  }
  std::uint64_t create_order(std::uint64_t merchant, std::int64_t amount, std::uint64_t reference = 0) {
    Command c = command(CommandKind::create_order, as_merchant(merchant), merchant);
    c.amount = amount;
    c.reference = reference;
    const Outcome out = run(c);
    EXPECT_EQ(out.result, Result::ok);
    return static_cast<std::uint64_t>(out.value);
  }
  Command pay(std::uint64_t user, std::uint64_t order, Funding funding) {
    Command c = command(CommandKind::pay_order, as_user(user), user);
    c.target = order;
    c.funding = funding;
    return c;
  }
  Result pay_from_wallet(std::uint64_t user, std::uint64_t order, std::int64_t amount) {
    return result_of(pay(user, order, Funding{amount, 0, 0, 0, 0, 0}));
  }
  Command on_order(CommandKind kind, std::uint64_t principal, std::uint64_t party, std::uint64_t order,
                   std::int64_t amount = 0) {
    Command c = command(kind, principal, party);
    c.target = order;
    c.amount = amount;
    return c;
  }
  // `user` pays `order` from `funding`, its card part approved by the bank.
  Result pay_by_card(std::uint64_t user, std::uint64_t order, const Funding& funding) {
    Command c = pay(user, order, funding);
    c.bank = bank(BankOutcome::approved, 1001);
    return result_of(c);
  }
  // An order of merchant 50, paid by user 1 from `funding` (its card part approved) and confirmed.
  std::uint64_t released_card_order(std::int64_t amount, const Funding& funding) {
    const std::uint64_t order = create_order(50, amount);
    EXPECT_EQ(pay_by_card(1, order, funding), Result::ok);
    EXPECT_EQ(result_of(on_order(CommandKind::confirm_order, as_user(1), 1, order)), Result::ok);
    return order;
  }
  // Merchant 50 refunds `amount` of `order`, with the bank's answer to crediting `card_part`.
  Command card_refund(std::uint64_t order, std::int64_t amount, std::int64_t card_part, BankOutcome outcome,
                      std::uint64_t reference = 77) {
    Command c = on_order(CommandKind::refund_order, as_merchant(50), 50, order, amount);
    c.funding.card = card_part;
    c.bank = bank(outcome, outcome == BankOutcome::approved ? reference : 0);
    return c;
  }
  // The ledger transfers moving money into `account`, with the user_data they carry.
  std::vector<ledger::Transfer> credits_to(std::uint64_t account) const {
    std::vector<ledger::Transfer> found;
    for (const ledger::TransferRecord& record : ledger_.transfers()) {
      if (record.transfer.credit_account_id == account) found.push_back(record.transfer);
    }
    return found;
  }
  std::int64_t balance(AccountKind kind, std::uint64_t id) const {
    const ledger::Account* account = ledger_.find_account(account_id(kind, id));
    return account == nullptr ? 0 : account->credits_posted - account->debits_posted;
  }
  std::int64_t platform_balance(PlatformAccount which) const {
    const ledger::Account* account = ledger_.find_account(platform_account(which));
    return account->credits_posted - account->debits_posted;
  }
  std::uint64_t create_campaign(std::int64_t budget, std::int64_t value, std::int64_t min_spend,
                                std::uint64_t valid_to_ns, std::uint32_t per_user_limit = 1) {
    Command c = command(CommandKind::create_campaign, platform, 0);
    c.amount = budget;
    c.terms = {value, min_spend, 0, valid_to_ns, per_user_limit, 0};
    const Outcome out = run(c);
    EXPECT_EQ(out.result, Result::ok);
    return static_cast<std::uint64_t>(out.value);
  }

  ledger::Ledger ledger_;
  Payments payments_{ledger_};
  std::uint64_t now_ = start_ns;
  std::uint64_t next_id_ = 1;
};

TEST(Money, FeeRoundsHalfUpToTheFen) {
  EXPECT_EQ(fee_half_up(12'345, 60), 74);   // 74.07
  EXPECT_EQ(fee_half_up(12'425, 60), 75);   // 74.55
  EXPECT_EQ(fee_half_up(12'375, 60), 74);   // 74.25
  EXPECT_EQ(fee_half_up(2'500, 20), 5);     // exactly 5.00
  EXPECT_EQ(fee_half_up(25, 2'000), 5);     // exactly 5.00
  EXPECT_EQ(fee_half_up(75, 2'000), 15);
  EXPECT_EQ(fee_half_up(1, 5'000), 1);      // 0.5 rounds up
  EXPECT_EQ(fee_half_up(1, 4'999), 0);
  EXPECT_EQ(fee_half_up(amount_max, 10'000), amount_max);
}

TEST_F(PaymentsTest, TopUpNeedsAnApprovedBankAnswer) {
  open_user(1);
  EXPECT_EQ(top_up(1, 10'000), Result::ok);
  EXPECT_EQ(top_up(1, 500, BankOutcome::declined), Result::bank_declined);
  EXPECT_EQ(top_up(1, 500, BankOutcome::failed), Result::bank_failed);
  EXPECT_EQ(top_up(1, 500, BankOutcome::none), Result::bank_answer_missing);
  EXPECT_EQ(top_up(1, 0), Result::amount_must_be_positive);
  EXPECT_EQ(top_up(1, amount_max + 1), Result::amount_too_large);
  EXPECT_EQ(top_up(2, 500), Result::user_not_found);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 10'000);
  EXPECT_EQ(balance(AccountKind::bank_clearing, channel), -10'000);
}

TEST_F(PaymentsTest, UsersActOnlyForThemselves) {
  open_user(1);
  open_user(2);
  ASSERT_EQ(top_up(1, 1'000), Result::ok);
  Command steal = command(CommandKind::transfer, as_user(2), 1);  // user 2 spends user 1's wallet
  steal.counterparty = 2;
  steal.amount = 500;
  EXPECT_EQ(result_of(steal), Result::forbidden);
  Command open = command(CommandKind::open_user, as_user(3), 3);
  EXPECT_EQ(result_of(open), Result::forbidden);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 1'000);
}

TEST_F(PaymentsTest, TransferAndBillPayment) {
  open_user(1);
  open_user(2);
  open_merchant(50);
  ASSERT_EQ(top_up(1, 1'000), Result::ok);
  Command p2p = command(CommandKind::transfer, as_user(1), 1);
  p2p.counterparty = 2;
  p2p.amount = 300;
  EXPECT_EQ(result_of(p2p), Result::ok);
  p2p.amount = 800;
  EXPECT_EQ(result_of(p2p), Result::insufficient_wallet);
  p2p.counterparty = 1;
  p2p.amount = 1;
  EXPECT_EQ(result_of(p2p), Result::same_party);
  p2p.counterparty = 9;
  EXPECT_EQ(result_of(p2p), Result::counterparty_not_found);
  Command bill = command(CommandKind::pay_bill, as_user(1), 1);
  bill.counterparty = 50;
  bill.amount = 200;
  bill.reference = 123456;
  EXPECT_EQ(result_of(bill), Result::ok);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 500);
  EXPECT_EQ(balance(AccountKind::wallet, 2), 300);
  EXPECT_EQ(balance(AccountKind::merchant, 50), 200);
}

TEST_F(PaymentsTest, EscrowPaysTheMerchantLessTheFeeOnConfirm) {
  open_user(1);
  open_merchant(50);
  ASSERT_EQ(top_up(1, 20'000), Result::ok);
  const std::uint64_t order = create_order(50, 12'425);
  ASSERT_EQ(pay_from_wallet(1, order, 12'425), Result::ok);
  EXPECT_EQ(platform_balance(PlatformAccount::escrow), 12'425);
  EXPECT_EQ(balance(AccountKind::merchant, 50), 0);
  const Outcome confirmed = run(on_order(CommandKind::confirm_order, as_user(1), 1, order));
  ASSERT_EQ(confirmed.result, Result::ok);
  EXPECT_EQ(confirmed.value, 75);
  EXPECT_EQ(balance(AccountKind::merchant, 50), 12'350);
  EXPECT_EQ(platform_balance(PlatformAccount::fee_income), 75);
  EXPECT_EQ(platform_balance(PlatformAccount::escrow), 0);
  EXPECT_EQ(payments_.find_order(order)->state, OrderState::released);
  // Confirming twice, paying a released order, closing it: clear errors, nothing moves.
  EXPECT_EQ(result_of(on_order(CommandKind::confirm_order, as_user(1), 1, order)),
            Result::order_already_released);
  EXPECT_EQ(pay_from_wallet(1, order, 12'425), Result::order_not_payable);
  EXPECT_EQ(result_of(on_order(CommandKind::close_order, as_merchant(50), 50, order)),
            Result::order_not_payable);
  EXPECT_EQ(balance(AccountKind::merchant, 50), 12'350);
  const SettlementRecord* day = payments_.find_settlement(50, business_day(now_));
  ASSERT_NE(day, nullptr);
  EXPECT_EQ(day->orders, 1u);
  EXPECT_EQ(day->gross, 12'425);
  EXPECT_EQ(day->fees, 75);
}

TEST_F(PaymentsTest, OrdersAutoConfirmWhenTheirPeriodEnds) {
  open_user(1);
  open_merchant(50, 100, 3600);
  ASSERT_EQ(top_up(1, 10'000), Result::ok);
  const std::uint64_t order = create_order(50, 10'000);
  ASSERT_EQ(pay_from_wallet(1, order, 10'000), Result::ok);
  const std::uint64_t due = payments_.find_order(order)->release_at;
  EXPECT_EQ(payments_.next_deadline(), due);
  advance_to(due - 1);
  EXPECT_EQ(payments_.find_order(order)->state, OrderState::paid);
  advance_to(due);
  EXPECT_EQ(payments_.find_order(order)->state, OrderState::released);
  EXPECT_EQ(balance(AccountKind::merchant, 50), 9'900);
  EXPECT_EQ(platform_balance(PlatformAccount::fee_income), 100);
  EXPECT_FALSE(payments_.next_deadline().has_value());
}

TEST_F(PaymentsTest, MixedSourcesPayInOneChainOrNotAtAll) {
  open_user(1);
  open_merchant(50);
  ASSERT_EQ(top_up(1, 3'000), Result::ok);
  const std::uint64_t campaign = create_campaign(100'000, 500, 5'000, start_ns + 1'000 * ns_per_s * 3600);
  const std::uint64_t order = create_order(50, 10'000);
  Command c = pay(1, order, Funding{3'000, 0, 6'500, 0, 0, campaign});
  c.bank = bank(BankOutcome::approved, 4242);
  EXPECT_EQ(result_of(c), Result::ok);
  const OrderRecord& paid = *payments_.find_order(order);
  EXPECT_EQ(paid.from_wallet, 3'000);
  EXPECT_EQ(paid.from_card, 6'500);
  EXPECT_EQ(paid.from_coupon, 500);
  EXPECT_EQ(balance(AccountKind::campaign, campaign), 99'500);
  EXPECT_EQ(payments_.coupons_in_use(campaign, 1), 1u);

  // Not enough in the wallet: the card and coupon legs roll back with it.
  ASSERT_EQ(top_up(1, 100), Result::ok);
  const std::uint64_t second = create_order(50, 1'000);
  Command short_wallet = pay(1, second, Funding{900, 0, 100, 0, 0, 0});
  short_wallet.bank = bank(BankOutcome::approved);
  EXPECT_EQ(result_of(short_wallet), Result::insufficient_wallet);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 100);
  EXPECT_EQ(payments_.find_order(second)->state, OrderState::awaiting_payment);
  // Sources that do not add up, a declined card, not-yet-enabled sources.
  EXPECT_EQ(pay_from_wallet(1, second, 999), Result::funding_mismatch);
  Command declined = pay(1, second, Funding{0, 0, 1'000, 0, 0, 0});
  declined.bank = bank(BankOutcome::declined);
  EXPECT_EQ(result_of(declined), Result::bank_declined);
  EXPECT_EQ(result_of(pay(1, second, Funding{0, 0, 0, 1'000, 0, 0})), Result::fund_not_found);
  EXPECT_EQ(result_of(pay(1, second, Funding{0, 0, 0, 0, 1'000, 0})), Result::credit_not_enabled);
}

// Paying from fund shares is an instant redemption inside the payment's chain, advanced by the
// fund's float and counted against the same daily limit as instant redemptions; a refund before
// release gives the buyer shares back.
TEST_F(PaymentsTest, FundSharesPayAtCheckoutAndRefundsComeBackAsShares) {
  constexpr std::uint64_t company = 80, fund_id = 900;
  const std::uint64_t as_company = principal(PartyKind::partner, company);
  open_user(1);
  open_merchant(50);
  Command institution = command(CommandKind::open_institution, platform, company);
  institution.a = static_cast<std::uint64_t>(InstitutionKind::fund_company);
  ASSERT_EQ(result_of(institution), Result::ok);
  Command create = command(CommandKind::create_fund, as_company, company);
  create.target = fund_id;
  ASSERT_EQ(result_of(create), Result::ok);
  Command float_in = on_order(CommandKind::fund_deposit_float, as_company, company, fund_id, 5'000'000);
  ASSERT_EQ(result_of(float_in), Result::ok);
  ASSERT_EQ(top_up(1, 2'000'000), Result::ok);
  ASSERT_EQ(result_of(on_order(CommandKind::fund_subscribe, as_user(1), 1, fund_id, 2'000'000)), Result::ok);

  const std::uint64_t order = create_order(50, 300'000);
  Command by_fund = pay(1, order, Funding{0, 0, 0, 300'000, 0, 0});
  by_fund.b = fund_id;
  EXPECT_EQ(result_of(by_fund), Result::fund_holding_insufficient);  // not confirmed yet
  advance_to(now_ + 3 * ns_per_day);
  by_fund.id = 0;
  ASSERT_EQ(result_of(by_fund), Result::ok);
  EXPECT_EQ(payments_.find_order(order)->from_fund, 300'000);
  EXPECT_EQ(payments_.funds().holder(fund_id, 1, now_)->confirmed, 1'700'000);
  EXPECT_EQ(payments_.funds().holder(fund_id, 1, now_)->instant_left, 700'000);
  EXPECT_EQ(balance(AccountKind::fund_float, fund_id), 4'700'000);

  // Past what is left of today's instant limit: nothing moves.
  const std::uint64_t second = create_order(50, 700'001);
  Command too_much = pay(1, second, Funding{0, 0, 0, 700'001, 0, 0});
  too_much.b = fund_id;
  EXPECT_EQ(result_of(too_much), Result::fund_instant_limit_exceeded);
  EXPECT_EQ(payments_.funds().holder(fund_id, 1, now_)->confirmed, 1'700'000);
  EXPECT_EQ(payments_.find_order(second)->state, OrderState::awaiting_payment);

  ASSERT_EQ(result_of(on_order(CommandKind::refund_order, as_merchant(50), 50, order, 100'000)), Result::ok);
  EXPECT_EQ(payments_.find_order(order)->from_fund, 200'000);
  EXPECT_EQ(payments_.funds().holder(fund_id, 1, now_)->confirmed, 1'800'000);
}

TEST_F(PaymentsTest, RefundsBeforeReleaseGoBackToTheSources) {
  open_user(1);
  open_merchant(50);
  ASSERT_EQ(top_up(1, 5'000), Result::ok);
  const std::uint64_t campaign = create_campaign(10'000, 1'000, 0, start_ns + 3600 * ns_per_s);
  const std::uint64_t order = create_order(50, 10'000);
  Command c = pay(1, order, Funding{5'000, 0, 4'000, 0, 0, campaign});
  c.bank = bank(BankOutcome::approved);
  ASSERT_EQ(result_of(c), Result::ok);
  EXPECT_EQ(result_of(on_order(CommandKind::refund_order, as_merchant(50), 50, order, 10'001)),
            Result::refund_exceeds_paid);
  // 4,500: the card's 4,000 first (credited back by the bank), then 500 of the wallet's.
  ASSERT_EQ(result_of(card_refund(order, 4'500, 4'000, BankOutcome::approved)), Result::ok);
  EXPECT_EQ(balance(AccountKind::bank_clearing, channel), -5'000 + 4'000 - 4'000);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 500);
  EXPECT_EQ(payments_.find_order(order)->held, 5'500);
  // The rest: wallet 4,500, then the coupon back to its campaign and to the buyer.
  ASSERT_EQ(result_of(on_order(CommandKind::refund_order, as_merchant(50), 50, order, 5'500)), Result::ok);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 5'000);
  EXPECT_EQ(balance(AccountKind::campaign, campaign), 10'000);
  EXPECT_EQ(payments_.coupons_in_use(campaign, 1), 0u);
  EXPECT_EQ(payments_.find_order(order)->state, OrderState::refunded);
  EXPECT_EQ(result_of(on_order(CommandKind::confirm_order, as_user(1), 1, order)), Result::order_refunded);
  EXPECT_EQ(result_of(on_order(CommandKind::refund_order, as_merchant(50), 50, order, 1)),
            Result::order_refunded);
}

TEST_F(PaymentsTest, RefundAfterReleaseComesFromTheMerchant) {
  open_user(1);
  open_merchant(50);
  open_merchant(51);
  ASSERT_EQ(top_up(1, 10'000), Result::ok);
  const std::uint64_t order = create_order(50, 10'000);
  ASSERT_EQ(pay_from_wallet(1, order, 10'000), Result::ok);
  ASSERT_EQ(result_of(on_order(CommandKind::confirm_order, as_user(1), 1, order)), Result::ok);
  EXPECT_EQ(balance(AccountKind::merchant, 50), 9'940);
  // Another merchant may neither refund nor close this order.
  EXPECT_EQ(result_of(on_order(CommandKind::refund_order, as_merchant(51), 51, order, 100)), Result::forbidden);
  EXPECT_EQ(result_of(on_order(CommandKind::refund_order, as_merchant(51), 50, order, 100)), Result::forbidden);
  ASSERT_EQ(result_of(on_order(CommandKind::refund_order, as_merchant(50), 50, order, 9'000)), Result::ok);
  EXPECT_EQ(balance(AccountKind::merchant, 50), 940);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 9'000);
  // The merchant's balance no longer covers the rest.
  EXPECT_EQ(result_of(on_order(CommandKind::refund_order, as_merchant(50), 50, order, 1'000)),
            Result::insufficient_merchant_balance);
  EXPECT_EQ(result_of(on_order(CommandKind::refund_order, as_merchant(50), 50, order, 1'001)),
            Result::refund_exceeds_paid);
  EXPECT_EQ(payments_.find_settlement(50, business_day(now_))->refunds, 9'000);
}

TEST_F(PaymentsTest, OnlyTheBuyerConfirmsAndClosedOrdersStayClosed) {
  open_user(1);
  open_user(2);
  open_merchant(50);
  ASSERT_EQ(top_up(1, 1'000), Result::ok);
  const std::uint64_t order = create_order(50, 1'000);
  EXPECT_EQ(result_of(on_order(CommandKind::confirm_order, as_user(1), 1, order)), Result::forbidden);
  ASSERT_EQ(pay_from_wallet(1, order, 1'000), Result::ok);
  EXPECT_EQ(result_of(on_order(CommandKind::confirm_order, as_user(2), 2, order)), Result::forbidden);
  const std::uint64_t other = create_order(50, 500);
  ASSERT_EQ(result_of(on_order(CommandKind::close_order, as_merchant(50), 50, other)), Result::ok);
  EXPECT_EQ(pay_from_wallet(1, other, 500), Result::order_closed);
  EXPECT_EQ(result_of(on_order(CommandKind::confirm_order, as_user(1), 1, other)), Result::forbidden);
  EXPECT_EQ(result_of(on_order(CommandKind::confirm_order, as_user(1), 1, 999)), Result::order_not_found);
}

TEST_F(PaymentsTest, MerchantOrderNumbersAreUnique) {
  open_merchant(50);
  open_merchant(51);
  const std::uint64_t first = create_order(50, 100, 777);
  Command again = command(CommandKind::create_order, as_merchant(50), 50);
  again.amount = 100;
  again.reference = 777;
  const Outcome out = run(again);
  EXPECT_EQ(out.result, Result::order_exists);
  EXPECT_EQ(static_cast<std::uint64_t>(out.value), first);
  EXPECT_NE(create_order(51, 100, 777), first);  // another merchant's number space
}

TEST_F(PaymentsTest, AnIdempotencyKeyReturnsTheFirstResultAndNeverASecondEffect) {
  open_user(1);
  Command c = command(CommandKind::top_up, as_user(1), 1);
  c.id = 5'000;
  c.request_hash = 11;
  c.amount = 700;
  c.bank = bank(BankOutcome::approved);
  const Outcome first = run(c);
  ASSERT_EQ(first.result, Result::ok);
  EXPECT_EQ(first.replayed, 0);
  const Outcome second = run(c);
  EXPECT_EQ(second.result, Result::ok);
  EXPECT_EQ(second.replayed, 1);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 700);
  c.request_hash = 12;
  c.amount = 900;
  EXPECT_EQ(result_of(c), Result::idempotency_key_reused);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 700);
  // A rejection is a result too: the same request again returns it, even if the bank would now
  // approve; a retry that should reach the bank again takes a new key.
  Command declined = c;
  declined.id = 5'001;
  declined.bank = bank(BankOutcome::declined);
  EXPECT_EQ(result_of(declined), Result::bank_declined);
  declined.bank = bank(BankOutcome::approved);
  const Outcome again = run(declined);
  EXPECT_EQ(again.result, Result::bank_declined);
  EXPECT_EQ(again.replayed, 1);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 700);
}

TEST_F(PaymentsTest, WithdrawalHoldsThenPaysOutOrComesBack) {
  open_user(1);
  ASSERT_EQ(top_up(1, 10'000), Result::ok);
  Command w = command(CommandKind::withdraw, as_user(1), 1);
  w.amount = 4'000;
  w.bank.channel = channel;
  const Outcome held = run(w);
  ASSERT_EQ(held.result, Result::ok);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 10'000);
  EXPECT_EQ(ledger_.find_account(account_id(AccountKind::wallet, 1))->debits_pending, 4'000);
  w.amount = 7'000;
  EXPECT_EQ(result_of(w), Result::insufficient_wallet);  // 4,000 of 10,000 is held

  Command settle = command(CommandKind::withdraw_settle, platform, 0);
  settle.target = static_cast<std::uint64_t>(held.value);
  settle.bank = bank(BankOutcome::approved, 31337);
  EXPECT_EQ(result_of(settle), Result::ok);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 6'000);
  EXPECT_EQ(result_of(settle), Result::withdrawal_settled);
  Command user_settles = settle;
  user_settles.principal = as_user(1);
  EXPECT_EQ(result_of(user_settles), Result::forbidden);

  // A failing bank: the money comes back, nothing is lost.
  w.amount = 2'000;
  const Outcome second = run(w);
  ASSERT_EQ(second.result, Result::ok);
  settle.target = static_cast<std::uint64_t>(second.value);
  settle.bank = bank(BankOutcome::failed);
  EXPECT_EQ(result_of(settle), Result::bank_failed);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 6'000);
  EXPECT_EQ(ledger_.find_account(account_id(AccountKind::wallet, 1))->debits_pending, 0);
  EXPECT_EQ(payments_.find_withdrawal(settle.target)->state, WithdrawalState::returned);
}

TEST_F(PaymentsTest, AWithdrawalNobodySettlesExpiresBackToTheWallet) {
  open_user(1);
  ASSERT_EQ(top_up(1, 1'000), Result::ok);
  Command w = command(CommandKind::withdraw, as_user(1), 1);
  w.amount = 1'000;
  w.bank.channel = channel;
  const Outcome held = run(w);
  ASSERT_EQ(held.result, Result::ok);
  now_ += withdrawal_hold_timeout_s * ns_per_s;
  EXPECT_EQ(ledger_.expire(now_), 1u);
  now_ += 2;
  Command settle = command(CommandKind::withdraw_settle, platform, 0);
  settle.target = static_cast<std::uint64_t>(held.value);
  settle.bank = bank(BankOutcome::approved);
  EXPECT_EQ(result_of(settle), Result::withdrawal_settled);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 1'000);
  EXPECT_EQ(ledger_.find_account(account_id(AccountKind::wallet, 1))->debits_pending, 0);
}

TEST_F(PaymentsTest, RiskVerdictsRecordedInTheCommandDecideWhetherMoneyMoves) {
  open_user(1);
  open_user(2);
  ASSERT_EQ(top_up(1, 1'000), Result::ok);
  Command c = command(CommandKind::transfer, as_user(1), 1);
  c.counterparty = 2;
  c.amount = 400;
  c.risk = RiskVerdict::deny;
  EXPECT_EQ(result_of(c), Result::risk_denied);
  c.risk = RiskVerdict::challenge;
  EXPECT_EQ(result_of(c), Result::risk_challenge_required);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 1'000);
  c.risk = RiskVerdict::allow;
  EXPECT_EQ(result_of(c), Result::ok);
  EXPECT_EQ(balance(AccountKind::wallet, 2), 400);
  c.risk = static_cast<RiskVerdict>(9);
  EXPECT_EQ(result_of(c), Result::invalid_command);
}

TEST_F(PaymentsTest, QrPaymentPaysTheMerchantAtOnceWithTheFee) {
  open_user(1);
  open_merchant(50, 60);
  ASSERT_EQ(top_up(1, 10'000), Result::ok);
  Command qr = command(CommandKind::qr_pay, as_user(1), 1);
  qr.counterparty = 50;
  qr.amount = 10'000;
  qr.funding = {10'000, 0, 0, 0, 0, 0};
  const Outcome out = run(qr);
  ASSERT_EQ(out.result, Result::ok);
  EXPECT_EQ(out.value, 60);
  EXPECT_EQ(balance(AccountKind::merchant, 50), 9'940);
  EXPECT_EQ(platform_balance(PlatformAccount::fee_income), 60);
  EXPECT_EQ(result_of(qr), Result::insufficient_wallet);
}

TEST_F(PaymentsTest, RedPacketFixedSplit) {
  open_user(1);
  for (std::uint64_t u = 2; u <= 5; ++u) open_user(u);
  ASSERT_EQ(top_up(1, 1'000), Result::ok);
  Command create = command(CommandKind::create_red_packet, as_user(1), 1);
  create.amount = 1'000;
  create.a = split_fixed;
  create.b = 3;
  const Outcome packet = run(create);
  ASSERT_EQ(packet.result, Result::ok);
  const auto id = static_cast<std::uint64_t>(packet.value);
  std::vector<std::int64_t> shares;
  for (std::uint64_t u = 2; u <= 4; ++u) {
    Command claim = command(CommandKind::claim_red_packet, as_user(u), u);
    claim.target = id;
    claim.id = 10'000 + u;
    const Outcome got = run(claim);
    ASSERT_EQ(got.result, Result::ok);
    shares.push_back(got.value);
    EXPECT_EQ(balance(AccountKind::red_packet, u), got.value);
    EXPECT_EQ(result_of(claim), Result::ok) << "the same key replays";
    claim.id = 0;
    EXPECT_EQ(result_of(claim), Result::red_packet_already_claimed);
  }
  EXPECT_EQ(shares, (std::vector<std::int64_t>{334, 333, 333}));
  Command late = command(CommandKind::claim_red_packet, as_user(5), 5);
  late.target = id;
  EXPECT_EQ(result_of(late), Result::red_packet_empty);
}

TEST_F(PaymentsTest, RedPacketRulesAndExpiry) {
  open_user(1);
  open_user(2);
  ASSERT_EQ(top_up(1, 1'000), Result::ok);
  Command create = command(CommandKind::create_red_packet, as_user(1), 1);
  create.a = split_random;
  create.b = 5;
  create.amount = 4;
  EXPECT_EQ(result_of(create), Result::red_packet_amount_too_small);
  create.amount = 5'000;
  EXPECT_EQ(result_of(create), Result::insufficient_wallet);
  create.amount = 500;
  create.b = 0;
  EXPECT_EQ(result_of(create), Result::red_packet_count_invalid);
  create.b = 5;
  create.a = 3;
  EXPECT_EQ(result_of(create), Result::red_packet_split_invalid);
  create.a = split_random;
  create.seed = 1234;
  const Outcome packet = run(create);
  ASSERT_EQ(packet.result, Result::ok);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 500);
  Command claim = command(CommandKind::claim_red_packet, as_user(2), 2);
  claim.target = static_cast<std::uint64_t>(packet.value);
  const Outcome got = run(claim);
  ASSERT_EQ(got.result, Result::ok);
  // A day later the four unclaimed packets go back to the sender.
  advance_to(start_ns + red_packet_lifetime_s * ns_per_s + 10 * ns_per_s);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 1'000 - got.value);
  Command late = command(CommandKind::claim_red_packet, as_user(1), 1);
  late.target = claim.target;
  EXPECT_EQ(result_of(late), Result::red_packet_expired);
}

TEST(RedPacketSplit, RandomSharesAreAtLeastAFenSumToTheTotalAndFollowTheSeed) {
  std::mt19937_64 random(20261122);
  for (int round = 0; round < 2'000; ++round) {
    RedPacketRecord packet{};
    packet.count = 1 + static_cast<std::uint32_t>(random() % 200);
    packet.total = packet.count + static_cast<std::int64_t>(random() % 100'000);
    packet.remaining = packet.total;
    packet.split = static_cast<std::uint32_t>(round % 2 == 0 ? split_random : split_fixed);
    packet.seed = random();
    RedPacketRecord twin = packet;
    std::int64_t sum = 0;
    while (packet.claimed < packet.count) {
      const std::int64_t share = red_packet_share(packet);
      ASSERT_GE(share, 1) << "round " << round;
      ASSERT_EQ(share, red_packet_share(twin));
      sum += share;
      packet.remaining -= share;
      ++packet.claimed;
      twin = packet;
    }
    EXPECT_EQ(sum, packet.total) << "round " << round;
  }
}

TEST_F(PaymentsTest, CouponRules) {
  open_user(1);
  open_merchant(50);
  ASSERT_EQ(top_up(1, 100'000), Result::ok);
  const std::uint64_t valid_to = now_ + 3600 * ns_per_s;
  const std::uint64_t campaign = create_campaign(1'000, 500, 2'000, valid_to, 1);
  const std::uint64_t small = create_order(50, 1'999);
  EXPECT_EQ(result_of(pay(1, small, Funding{1'499, 0, 0, 0, 0, campaign})), Result::coupon_min_spend);
  const std::uint64_t first = create_order(50, 2'000);
  EXPECT_EQ(result_of(pay(1, first, Funding{1'500, 0, 0, 0, 0, campaign})), Result::ok);
  const std::uint64_t second = create_order(50, 2'000);
  EXPECT_EQ(result_of(pay(1, second, Funding{1'500, 0, 0, 0, 0, campaign})), Result::coupon_limit_reached);
  EXPECT_EQ(result_of(pay(1, second, Funding{1'500, 0, 0, 0, 0, 12345})), Result::campaign_not_found);
  // Refunded while valid: the coupon is the buyer's again.
  ASSERT_EQ(result_of(on_order(CommandKind::refund_order, as_merchant(50), 50, first, 2'000)), Result::ok);
  EXPECT_EQ(payments_.coupons_in_use(campaign, 1), 0u);
  ASSERT_EQ(result_of(pay(1, second, Funding{1'500, 0, 0, 0, 0, campaign})), Result::ok);
  // After the window: an expired coupon cannot pay, and a refund returns the money to the
  // campaign without handing the coupon back.
  advance_to(valid_to);
  const std::uint64_t third = create_order(50, 2'000);
  EXPECT_EQ(result_of(pay(1, third, Funding{1'500, 0, 0, 0, 0, campaign})), Result::coupon_not_valid_now);
  ASSERT_EQ(result_of(on_order(CommandKind::refund_order, as_merchant(50), 50, second, 2'000)), Result::ok);
  EXPECT_EQ(payments_.coupons_in_use(campaign, 1), 1u);
  EXPECT_EQ(balance(AccountKind::campaign, campaign), 1'000);
  EXPECT_EQ(payments_.find_order(second)->flags & order_coupon_restored, 0);
  // A campaign that its funder cannot pay for, and bad terms.
  Command broke = command(CommandKind::create_campaign, as_merchant(50), 50);
  broke.amount = 1'000;
  broke.terms = {100, 0, 0, valid_to, 1, 0};
  EXPECT_EQ(result_of(broke), Result::insufficient_merchant_balance);
  broke.terms.per_user_limit = 0;
  EXPECT_EQ(result_of(broke), Result::campaign_terms_invalid);
}

TEST_F(PaymentsTest, OrderEventsAreNumberedPerOrder) {
  open_user(1);
  open_merchant(50);
  ASSERT_EQ(top_up(1, 1'000), Result::ok);
  const std::uint64_t order = create_order(50, 1'000);
  ASSERT_EQ(pay_from_wallet(1, order, 1'000), Result::ok);
  ASSERT_EQ(result_of(on_order(CommandKind::refund_order, as_merchant(50), 50, order, 400)), Result::ok);
  ASSERT_EQ(result_of(on_order(CommandKind::confirm_order, as_user(1), 1, order)), Result::ok);
  std::vector<OrderEvent> events;
  payments_.take_events(&events);
  ASSERT_EQ(events.size(), 4u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].order, order);
    EXPECT_EQ(events[i].sequence, i + 1);
  }
  EXPECT_EQ(events[0].state, OrderState::awaiting_payment);
  EXPECT_EQ(events[1].state, OrderState::paid);
  EXPECT_EQ(events[2].refunded, 400);
  EXPECT_EQ(events[3].state, OrderState::released);
}

// The card part of a refund before release goes back to the card through the bank: approved, it
// moves to the channel's clearing account carrying the bank's reference, so reconciliation can
// match it against the bank's statement.
TEST_F(PaymentsTest, ApprovedCardRefundGoesToTheCardWithTheBanksReference) {
  open_user(1);
  open_merchant(50);
  const std::uint64_t order = create_order(50, 6'000);
  ASSERT_EQ(pay_by_card(1, order, Funding{0, 0, 6'000, 0, 0, 0}), Result::ok);
  const std::int64_t escrow_before = platform_balance(PlatformAccount::escrow);

  const Outcome out = run(card_refund(order, 2'500, 2'500, BankOutcome::approved, 5005));
  ASSERT_EQ(out.result, Result::ok);
  EXPECT_EQ(out.value, 2'500);
  EXPECT_EQ(out.card_refund, CardRefund::to_card);
  EXPECT_EQ(balance(AccountKind::bank_clearing, channel), -6'000 + 2'500);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 0);
  EXPECT_EQ(platform_balance(PlatformAccount::escrow), escrow_before - 2'500);
  const std::vector<ledger::Transfer> to_clearing = credits_to(account_id(AccountKind::bank_clearing, channel));
  ASSERT_EQ(to_clearing.size(), 1u);
  EXPECT_EQ(to_clearing[0].amount, 2'500);
  EXPECT_EQ(to_clearing[0].user_data, 5005u);
  EXPECT_EQ(to_clearing[0].code, static_cast<std::uint16_t>(TransferCode::order_refund));
  const OrderRecord& after = *payments_.find_order(order);
  EXPECT_EQ(after.from_card, 3'500);
  EXPECT_EQ(after.held, 3'500);
  EXPECT_EQ(after.flags & order_card_refund_to_wallet, 0);
  EXPECT_EQ(after.state, OrderState::paid);
}

// Declined or failed, the bank did not credit the card: the card part goes to the buyer's wallet
// instead, the answer and the order say so, and escrow still balances.
TEST_F(PaymentsTest, DeclinedOrFailedCardRefundGoesToTheWallet) {
  open_user(1);
  open_merchant(50);
  const std::uint64_t order = create_order(50, 6'000);
  ASSERT_EQ(pay_by_card(1, order, Funding{0, 0, 6'000, 0, 0, 0}), Result::ok);

  const Outcome declined = run(card_refund(order, 1'000, 1'000, BankOutcome::declined));
  ASSERT_EQ(declined.result, Result::ok);
  EXPECT_EQ(declined.card_refund, CardRefund::to_wallet);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 1'000);
  EXPECT_EQ(balance(AccountKind::bank_clearing, channel), -6'000);  // nothing back to the bank
  EXPECT_NE(payments_.find_order(order)->flags & order_card_refund_to_wallet, 0);

  const Outcome failed = run(card_refund(order, 5'000, 5'000, BankOutcome::failed));
  ASSERT_EQ(failed.result, Result::ok);
  EXPECT_EQ(failed.card_refund, CardRefund::to_wallet);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 6'000);
  EXPECT_EQ(platform_balance(PlatformAccount::escrow), 0);
  EXPECT_EQ(payments_.find_order(order)->state, OrderState::refunded);
  EXPECT_TRUE(credits_to(account_id(AccountKind::bank_clearing, channel)).empty());
}

// A partial refund of an order paid from card, wallet, red packet and coupon takes the card first;
// the answer of an idempotent retry is the first one, card_refund included, and nothing moves twice.
TEST_F(PaymentsTest, PartialRefundOfAMixedOrderTakesTheCardFirst) {
  open_user(1);
  open_user(2);
  open_merchant(50);
  ASSERT_EQ(top_up(1, 3'000), Result::ok);
  Command packet = command(CommandKind::create_red_packet, as_user(2), 2);
  ASSERT_EQ(top_up(2, 1'000), Result::ok);
  packet.amount = 1'000;
  packet.a = split_fixed;
  packet.b = 1;
  const Outcome created = run(packet);
  ASSERT_EQ(created.result, Result::ok);
  ASSERT_EQ(result_of(on_order(CommandKind::claim_red_packet, as_user(1), 1, created.value)), Result::ok);
  const std::uint64_t campaign = create_campaign(10'000, 500, 0, start_ns + 3600 * ns_per_s);
  const std::uint64_t order = create_order(50, 10'000);
  ASSERT_EQ(pay_by_card(1, order, Funding{3'000, 1'000, 5'500, 0, 0, campaign}), Result::ok);
  const std::int64_t escrow_before = platform_balance(PlatformAccount::escrow);

  // 7,000: the card's 5,500 (the bank declines: to the wallet), then 1,500 of the wallet's.
  Command refund = card_refund(order, 7'000, 5'500, BankOutcome::declined);
  refund.id = 4242;
  const Outcome first = run(refund);
  ASSERT_EQ(first.result, Result::ok);
  EXPECT_EQ(first.card_refund, CardRefund::to_wallet);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 5'500 + 1'500);
  EXPECT_EQ(balance(AccountKind::red_packet, 1), 0);
  const OrderRecord& after = *payments_.find_order(order);
  EXPECT_EQ(after.from_card, 0);
  EXPECT_EQ(after.from_wallet, 1'500);
  EXPECT_EQ(after.from_red_packet, 1'000);
  EXPECT_EQ(after.from_coupon, 500);
  EXPECT_EQ(after.held, 3'000);
  EXPECT_EQ(platform_balance(PlatformAccount::escrow), escrow_before - 7'000);

  // The same key again: the first answer, nothing moves (and the API never calls the bank again).
  const Outcome again = run(refund);
  EXPECT_EQ(again.result, Result::ok);
  EXPECT_EQ(again.replayed, 1);
  EXPECT_EQ(again.card_refund, CardRefund::to_wallet);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 7'000);

  // No card part left: a refund that claims one is refused, a plain one takes wallet, red packet
  // and coupon in that order.
  EXPECT_EQ(result_of(card_refund(order, 1'000, 1'000, BankOutcome::approved)), Result::card_refund_mismatch);
  const Outcome rest = run(on_order(CommandKind::refund_order, as_merchant(50), 50, order, 3'000));
  ASSERT_EQ(rest.result, Result::ok);
  EXPECT_EQ(rest.card_refund, CardRefund::none);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 8'500);
  EXPECT_EQ(balance(AccountKind::red_packet, 1), 1'000);
  EXPECT_EQ(balance(AccountKind::campaign, campaign), 10'000);
  EXPECT_EQ(payments_.find_order(order)->state, OrderState::refunded);
}

// A card part needs the bank's answer for exactly that part on the order's channel; anything else
// moves nothing, so the bank's credit, if there was one, stands out in reconciliation.
TEST_F(PaymentsTest, CardRefundNeedsAMatchingBankAnswer) {
  open_user(1);
  open_merchant(50);
  ASSERT_EQ(top_up(1, 1'000), Result::ok);
  const std::uint64_t order = create_order(50, 5'000);
  ASSERT_EQ(pay_by_card(1, order, Funding{1'000, 0, 4'000, 0, 0, 0}), Result::ok);
  EXPECT_EQ(result_of(on_order(CommandKind::refund_order, as_merchant(50), 50, order, 500)),
            Result::bank_answer_missing);
  EXPECT_EQ(result_of(card_refund(order, 500, 400, BankOutcome::approved)), Result::card_refund_mismatch);
  Command elsewhere = card_refund(order, 500, 500, BankOutcome::approved);
  elsewhere.bank.channel = channel + 1;
  EXPECT_EQ(result_of(elsewhere), Result::card_refund_mismatch);
  EXPECT_EQ(payments_.find_order(order)->held, 5'000);
  // A batch step carries the answer alone: it covers the card part when applied.
  Command batched = card_refund(order, 4'500, 0, BankOutcome::approved);
  const Outcome out = run(batched);
  ASSERT_EQ(out.result, Result::ok);
  EXPECT_EQ(out.card_refund, CardRefund::to_card);
  EXPECT_EQ(balance(AccountKind::bank_clearing, channel), -4'000 - 1'000 + 4'000);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 500);
  // A released order no longer knows its card part: a bare bank answer does not fit it, nor one on
  // another channel, nor a card part larger than the refund.
  const std::uint64_t second = released_card_order(2'000, Funding{0, 0, 2'000, 0, 0, 0});
  EXPECT_EQ(result_of(card_refund(second, 1'000, 0, BankOutcome::approved)), Result::card_refund_mismatch);
  EXPECT_EQ(result_of(card_refund(second, 1'000, 1'001, BankOutcome::approved)), Result::card_refund_mismatch);
  Command other_channel = card_refund(second, 1'000, 1'000, BankOutcome::approved);
  other_channel.bank.channel = channel + 1;
  EXPECT_EQ(result_of(other_channel), Result::card_refund_mismatch);
  // And an order paid without a card has no channel to refund a card part through.
  const std::uint64_t third = create_order(50, 500);
  ASSERT_EQ(pay_from_wallet(1, third, 500), Result::ok);
  ASSERT_EQ(result_of(on_order(CommandKind::confirm_order, as_user(1), 1, third)), Result::ok);
  Command no_card = card_refund(third, 500, 500, BankOutcome::approved);
  no_card.bank.channel = 0;
  EXPECT_EQ(result_of(no_card), Result::card_refund_mismatch);
}

// The API asks the bank while the order is paid; the clock's auto-confirm (or the buyer) releases
// it before the refund reaches the journal. The bank has credited the card by then, so the card
// part comes from the merchant's balance to the clearing account with the bank's reference, and
// the rest to the wallet; declined, all of it to the wallet. Short of balance, nothing moves.
TEST_F(PaymentsTest, CardRefundThatRacedTheReleaseComesFromTheMerchant) {
  open_user(1);
  open_merchant(50);
  ASSERT_EQ(top_up(1, 1'000), Result::ok);
  const std::uint64_t order = released_card_order(5'000, Funding{1'000, 0, 4'000, 0, 0, 0});
  const std::int64_t merchant_after_release = balance(AccountKind::merchant, 50);
  ASSERT_EQ(merchant_after_release, 5'000 - 30);

  const Outcome out = run(card_refund(order, 4'500, 4'000, BankOutcome::approved, 7007));
  ASSERT_EQ(out.result, Result::ok);
  EXPECT_EQ(out.card_refund, CardRefund::to_card);
  EXPECT_EQ(balance(AccountKind::merchant, 50), merchant_after_release - 4'500);
  EXPECT_EQ(balance(AccountKind::bank_clearing, channel), -1'000 - 4'000 + 4'000);  // the top-up, the payment, the refund
  EXPECT_EQ(balance(AccountKind::wallet, 1), 500);
  const std::vector<ledger::Transfer> to_clearing = credits_to(account_id(AccountKind::bank_clearing, channel));
  ASSERT_EQ(to_clearing.size(), 1u);
  EXPECT_EQ(to_clearing[0].user_data, 7007u);
  EXPECT_EQ(to_clearing[0].debit_account_id, account_id(AccountKind::merchant, 50));
  EXPECT_EQ(payments_.find_order(order)->refunded, 4'500);
  EXPECT_EQ(payments_.find_order(order)->state, OrderState::released);

  // Another order: the bank declines, so its card part goes to the wallet and the order says so.
  const std::uint64_t second = released_card_order(300, Funding{0, 0, 300, 0, 0, 0});
  const Outcome declined = run(card_refund(second, 300, 300, BankOutcome::declined));
  ASSERT_EQ(declined.result, Result::ok);
  EXPECT_EQ(declined.card_refund, CardRefund::to_wallet);
  EXPECT_EQ(balance(AccountKind::wallet, 1), 800);
  EXPECT_NE(payments_.find_order(second)->flags & order_card_refund_to_wallet, 0);

  // The merchant's balance no longer covers the rest of the first order: nothing moves.
  const std::int64_t merchant_before = balance(AccountKind::merchant, 50);
  ASSERT_LT(merchant_before, 500);
  EXPECT_EQ(result_of(card_refund(order, 500, 500, BankOutcome::approved, 7008)),
            Result::insufficient_merchant_balance);
  EXPECT_EQ(balance(AccountKind::merchant, 50), merchant_before);
  EXPECT_EQ(payments_.find_order(order)->refunded, 4'500);
}

// Thousands of mixed commands from a seed, with every invariant checked after each one (money
// conserved per ledger, escrow equal to what orders hold, red packets equal to their accounts),
// then a save/restore into a fresh state that must hash the same and keep giving the same results.
TEST_F(PaymentsTest, RandomizedMixedOperationsConserveMoney) {
  const std::uint64_t seed = 1'122'334;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 random(seed);
  constexpr std::uint64_t users = 20, merchants = 4;
  for (std::uint64_t u = 1; u <= users; ++u) open_user(u);
  for (std::uint64_t m = 100; m < 100 + merchants; ++m) open_merchant(m, static_cast<std::uint32_t>(m % 3) * 40);
  const std::uint64_t campaign = create_campaign(50'000, 300, 1'000, start_ns + 3 * 24 * 3600 * ns_per_s, 3);
  std::vector<std::uint64_t> orders, packets;
  const auto pick = [&](std::uint64_t n) { return random() % n; };
  const auto user = [&] { return 1 + pick(users); };
  const auto merchant = [&] { return 100 + pick(merchants); };
  std::array<int, result_count> seen{};
  std::array<int, 3> card_refunds{};  // by CardRefund: none, to_card, to_wallet
  for (int step = 0; step < 6'000; ++step) {
    SCOPED_TRACE(::testing::Message() << "step " << step);
    Command c{};
    switch (pick(10)) {
      case 0: {
        const std::uint64_t u = user();
        c = command(CommandKind::top_up, as_user(u), u);
        c.amount = 1 + static_cast<std::int64_t>(pick(20'000));
        c.bank = bank(pick(10) == 0 ? BankOutcome::declined : BankOutcome::approved);
        break;
      }
      case 1: {
        const std::uint64_t m = merchant();
        c = command(CommandKind::create_order, as_merchant(m), m);
        c.amount = 1 + static_cast<std::int64_t>(pick(15'000));
        break;
      }
      case 2:
      case 3: {
        if (orders.empty()) continue;
        const std::uint64_t order = orders[pick(orders.size())];
        const std::uint64_t u = user();
        const std::int64_t due = payments_.find_order(order)->amount;
        Funding f{};
        f.campaign = pick(4) == 0 ? campaign : 0;
        std::int64_t left = due - (f.campaign != 0 ? std::min<std::int64_t>(300, due) : 0);
        f.red_packet = std::min<std::int64_t>(left, balance(AccountKind::red_packet, u));
        left -= f.red_packet;
        f.card = pick(3) == 0 ? left / 2 : 0;
        f.wallet = left - f.card;
        c = pay(u, order, f);
        if (f.card > 0) c.bank = bank(BankOutcome::approved, random());
        break;
      }
      case 4: {
        if (orders.empty()) continue;
        const OrderRecord& order = *payments_.find_order(orders[pick(orders.size())]);
        c = on_order(CommandKind::confirm_order, as_user(order.buyer == 0 ? 1 : order.buyer),
                     order.buyer == 0 ? 1 : order.buyer, order.id);
        break;
      }
      case 5: {
        if (orders.empty()) continue;
        const OrderRecord& order = *payments_.find_order(orders[pick(orders.size())]);
        c = on_order(CommandKind::refund_order, as_merchant(order.merchant), order.merchant, order.id,
                     1 + static_cast<std::int64_t>(pick(static_cast<std::uint64_t>(order.amount))));
        // The card part is credited back by the bank, which approves, declines or fails.
        if (order.state == OrderState::paid && order.from_card > 0) {
          c.funding.card = std::min(c.amount, order.from_card);
          c.bank = bank(static_cast<BankOutcome>(1 + pick(3)), random());
          c.bank.channel = order.channel;
        }
        break;
      }
      case 6: {
        const std::uint64_t u = user();
        c = command(CommandKind::transfer, as_user(u), u);
        c.counterparty = user();
        c.amount = 1 + static_cast<std::int64_t>(pick(5'000));
        break;
      }
      case 7: {
        const std::uint64_t u = user();
        c = command(CommandKind::create_red_packet, as_user(u), u);
        c.amount = 10 + static_cast<std::int64_t>(pick(3'000));
        c.a = 1 + pick(2);
        c.b = 1 + pick(8);
        c.seed = random();
        break;
      }
      case 8: {
        if (packets.empty()) continue;
        const std::uint64_t u = user();
        c = command(CommandKind::claim_red_packet, as_user(u), u);
        c.target = packets[pick(packets.size())];
        break;
      }
      case 9: {
        const std::uint64_t u = user();
        c = command(CommandKind::qr_pay, as_user(u), u);
        c.counterparty = merchant();
        c.amount = 1 + static_cast<std::int64_t>(pick(3'000));
        c.funding.wallet = c.amount;
        break;
      }
    }
    const Outcome out = run(c);
    ++seen[static_cast<std::size_t>(out.result)];
    ++card_refunds[static_cast<std::size_t>(out.card_refund)];
    if (out.result == Result::ok && c.kind == CommandKind::create_order) orders.push_back(out.value);
    if (out.result == Result::ok && c.kind == CommandKind::create_red_packet) packets.push_back(out.value);
    if (step % 500 == 0) advance_to(now_ + 6 * 3600 * ns_per_s);  // auto-confirms, expiries
    if (HasFailure()) return;
  }
  EXPECT_GT(seen[static_cast<std::size_t>(Result::ok)], 2'000);
  EXPECT_GT(seen[static_cast<std::size_t>(Result::insufficient_wallet)], 0);
  EXPECT_GT(card_refunds[static_cast<std::size_t>(CardRefund::to_card)], 0);
  EXPECT_GT(card_refunds[static_cast<std::size_t>(CardRefund::to_wallet)], 0);

  ledger::Ledger copy_ledger;
  copy_ledger.restore({ledger_.accounts().begin(), ledger_.accounts().end()},
                      {ledger_.transfers().begin(), ledger_.transfers().end()});
  Payments copy(copy_ledger);
  ASSERT_TRUE(copy.restore(payments_.save()));
  EXPECT_EQ(copy.state_hash(), payments_.state_hash());
  Command more = command(CommandKind::top_up, as_user(3), 3);
  more.id = 999'999'999;
  more.amount = 777;
  more.bank = bank(BankOutcome::approved);
  const std::uint64_t at = now_ + ns_per_s * 3600 * 24 * 20;  // past every deadline
  Outcome a{}, b{};
  const std::uint64_t used_a = payments_.advance(at);
  const std::uint64_t used_b = copy.advance(at);
  EXPECT_EQ(used_a, used_b);
  payments_.apply({&more, 1}, at + used_a, {&a, 1});
  copy.apply({&more, 1}, at + used_b, {&b, 1});
  EXPECT_EQ(a.result, b.result);
  EXPECT_EQ(copy.state_hash(), payments_.state_hash());
  EXPECT_EQ(copy_ledger.state_hash(), ledger_.state_hash());
  EXPECT_EQ(payments_.check_invariants(), "");
}

// Orders over three table chunks through three checkpoints into parts: the first takes every
// chunk, the next only those whose records changed (an early order closed, a new one created);
// a restore from the parts kept, newer over older, gives the same state, as does one from bytes
// written with the tables inline (the layout before they went apart).
TEST_F(PaymentsTest, CheckpointPartsHoldOnlyChangedChunksAndRestoreTheSameState) {
  using Orders = Table<std::uint64_t, OrderRecord>;
  constexpr std::uint64_t orders = 2 * Orders::chunk_records + 100;
  open_merchant(50);
  std::vector<Command> batch;
  std::vector<Outcome> outcomes;
  for (std::uint64_t i = 0; i < orders; ++i) {
    Command c = command(CommandKind::create_order, as_merchant(50), 50);
    c.id = next_id_++;
    c.amount = 100;
    batch.push_back(c);
    if (batch.size() == batch_events_max || i + 1 == orders) {
      outcomes.resize(batch.size());
      now_ += payments_.apply(batch, now_, outcomes) + 1;
      for (const Outcome& out : outcomes) ASSERT_EQ(out.result, Result::ok);
      batch.clear();
    }
  }
  const std::uint64_t first_order = 1;
  ASSERT_EQ(payments_.orders(), orders);
  ASSERT_NE(payments_.find_order(first_order), nullptr);

  fund::Parts kept;
  const std::string first = payments_.save(&kept);
  const auto order_chunks = [](const fund::Parts& parts) {
    std::size_t count = 0;
    const Orders probe(3);  // the orders table's seed: its part keys
    for (std::uint32_t chunk = 0; chunk < 4; ++chunk)
      count += parts.contains(probe.part_key(chunk));
    return count;
  };
  EXPECT_EQ(order_chunks(kept), 3u);

  // Nothing changed: no part at all.
  fund::Parts none;
  payments_.save(&none);
  EXPECT_TRUE(none.empty());

  EXPECT_EQ(result_of(on_order(CommandKind::close_order, as_merchant(50), 50, first_order)),
            Result::ok);
  create_order(50, 200);
  fund::Parts changed;
  const std::string second = payments_.save(&changed);
  const Orders probe(3);
  EXPECT_TRUE(changed.contains(probe.part_key(0)));   // the closed order
  EXPECT_FALSE(changed.contains(probe.part_key(1)));  // untouched
  EXPECT_TRUE(changed.contains(probe.part_key(2)));   // the new order
  EXPECT_LT(first.size(), 4096u);                     // the rest of the state is small
  for (auto& [key, bytes] : changed) kept[key] = std::move(bytes);

  ledger::Ledger copy_ledger;
  copy_ledger.restore({ledger_.accounts().begin(), ledger_.accounts().end()},
                      {ledger_.transfers().begin(), ledger_.transfers().end()});
  Payments copy(copy_ledger);
  ASSERT_TRUE(copy.restore(second, &kept));
  EXPECT_EQ(copy.state_hash(), payments_.state_hash());
  EXPECT_EQ(copy.orders(), orders + 1);
  EXPECT_EQ(copy.find_order(first_order)->state, OrderState::closed);
  Payments without_parts(copy_ledger);
  EXPECT_FALSE(without_parts.restore(second));  // its tables are in parts it was not given

  // A third save of the restored copy takes nothing until it changes.
  fund::Parts third;
  copy.save(&third);
  EXPECT_TRUE(third.empty());

  Payments from_inline(copy_ledger);
  ASSERT_TRUE(from_inline.restore(payments_.save()));
  EXPECT_EQ(from_inline.state_hash(), payments_.state_hash());
  // Loaded inline, every chunk is new to the checkpoints that follow.
  fund::Parts all;
  from_inline.save(&all);
  EXPECT_EQ(order_chunks(all), 3u);
}

TEST(PaymentsRestore, RejectsTruncatedBytes) {
  ledger::Ledger ledger;
  Payments payments(ledger);
  const std::string saved = payments.save();
  Payments other(ledger);
  EXPECT_TRUE(other.restore(saved));
  EXPECT_FALSE(other.restore(saved.substr(0, saved.size() - 1)));
  EXPECT_FALSE(other.restore(saved + "x"));
}

}  // namespace
}  // namespace capillary::payments
