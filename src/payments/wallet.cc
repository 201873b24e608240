// Parties and wallet movements: opening users and merchants, top-ups and withdrawals through a
// bank channel, user-to-user transfers and bill payments, and QR payments to a merchant.

#include "core/assert.h"
#include "payments/limits.h"
#include "payments/money.h"
#include "payments/payments.h"

namespace capillary::payments {
namespace {

constexpr std::uint16_t never_overdrawn = ledger::account_debits_must_not_exceed_credits;

Result check_amount(std::int64_t amount) {
  if (amount <= 0) return Result::amount_must_be_positive;
  if (amount > amount_max) return Result::amount_too_large;
  return Result::ok;
}

Result bank_result(const BankAnswer& bank) {
  switch (bank.outcome) {
    case BankOutcome::approved: return Result::ok;
    case BankOutcome::declined: return Result::bank_declined;
    case BankOutcome::failed: return Result::bank_failed;
    case BankOutcome::none: break;
  }
  return Result::bank_answer_missing;
}

}  // namespace

Result Payments::ensure_platform_accounts() noexcept {
  if (Result r = chain_.ensure_account(AccountKind::platform, static_cast<std::uint64_t>(PlatformAccount::escrow),
                                never_overdrawn);
      r != Result::ok) {
    return r;
  }
  if (Result r = chain_.ensure_account(AccountKind::platform,
                                static_cast<std::uint64_t>(PlatformAccount::fee_income), never_overdrawn);
      r != Result::ok) {
    return r;
  }
  // Marketing spends the platform's own money: it may run a debit balance.
  return chain_.ensure_account(AccountKind::platform, static_cast<std::uint64_t>(PlatformAccount::marketing), 0);
}

Outcome Payments::open_user(const Command& command) noexcept {
  if (command.party == 0) return outcome(Result::party_id_invalid);
  if (users_.find(command.party) != nullptr) return outcome(Result::user_exists);
  if (Result r = ensure_platform_accounts(); r != Result::ok) return outcome(r);
  const ledger::AccountSpec accounts[2] = {
      account_spec(AccountKind::wallet, command.party, command.party, never_overdrawn),
      account_spec(AccountKind::red_packet, command.party, command.party, never_overdrawn)};
  if (Result r = chain_.open_accounts(accounts); r != Result::ok) return outcome(r);
  users_.put(command.party, {command.party, chain_.now(), command.a != 0 ? 1u : 0u});
  return outcome(Result::ok, static_cast<std::int64_t>(command.party));
}

Outcome Payments::open_merchant(const Command& command) noexcept {
  if (command.party == 0) return outcome(Result::party_id_invalid);
  if (merchants_.find(command.party) != nullptr) return outcome(Result::merchant_exists);
  if (command.a > fee_bps_max) return outcome(Result::fee_bps_invalid);
  if (Result r = ensure_platform_accounts(); r != Result::ok) return outcome(r);
  const ledger::AccountSpec account =
      account_spec(AccountKind::merchant, command.party, command.party, never_overdrawn);
  if (Result r = chain_.open_accounts({&account, 1}); r != Result::ok) return outcome(r);
  MerchantRecord merchant{};
  merchant.id = command.party;
  merchant.opened_at = chain_.now();
  merchant.fee_bps = static_cast<std::uint32_t>(command.a);
  merchant.auto_confirm_s = command.b == 0 ? auto_confirm_s_default : static_cast<std::uint32_t>(command.b);
  merchants_.put(command.party, merchant);
  return outcome(Result::ok, static_cast<std::int64_t>(command.party));
}

// A partner's clearing account may run a debit balance: what the institution owes the platform
// and wires through its bank, as a bank channel's clearing account does.
Outcome Payments::open_institution(const Command& command) noexcept {
  if (command.party == 0) return outcome(Result::party_id_invalid);
  if (institutions_.find(command.party) != nullptr) return outcome(Result::institution_exists);
  if (command.a < static_cast<std::uint64_t>(InstitutionKind::bank) ||
      command.a > static_cast<std::uint64_t>(InstitutionKind::other) || command.amount < 0 ||
      command.amount > std::int64_t{UINT32_MAX}) {
    return outcome(Result::institution_invalid);
  }
  const ledger::AccountSpec account = account_spec(AccountKind::institution, command.party, command.party, 0);
  if (Result r = chain_.open_accounts({&account, 1}); r != Result::ok) return outcome(r);
  InstitutionRecord institution{};
  institution.id = command.party;
  institution.opened_at = chain_.now();
  institution.assets = command.b;
  institution.kind = static_cast<InstitutionKind>(command.a);
  institution.solvency_bps = static_cast<std::uint32_t>(command.amount);
  institutions_.put(command.party, institution);
  return outcome(Result::ok, static_cast<std::int64_t>(command.party));
}

Outcome Payments::top_up(const Command& command) noexcept {
  if (Result r = check_amount(command.amount); r != Result::ok) return outcome(r);
  if (users_.find(command.party) == nullptr) return outcome(Result::user_not_found);
  if (Result r = bank_result(command.bank); r != Result::ok) return outcome(r);
  if (Result r = chain_.ensure_account(AccountKind::bank_clearing, command.bank.channel, 0); r != Result::ok) {
    return outcome(r);
  }
  chain_.leg(account_id(AccountKind::bank_clearing, command.bank.channel),
      account_id(AccountKind::wallet, command.party), command.amount,
      TransferCode::top_up, command.bank.reference);
  return outcome(chain_.commit(), command.amount);
}

// Phase one of a withdrawal: the money is held while the bank pays out. withdraw_settle posts the
// hold when the bank approved and voids it otherwise; if no answer comes, the hold expires by
// itself and the money is back in the wallet.
Outcome Payments::withdraw(const Command& command) noexcept {
  if (Result r = check_amount(command.amount); r != Result::ok) return outcome(r);
  if (users_.find(command.party) == nullptr) return outcome(Result::user_not_found);
  if (Result r = chain_.ensure_account(AccountKind::bank_clearing, command.bank.channel, 0); r != Result::ok) {
    return outcome(r);
  }
  const std::uint64_t hold = transfer_id(chain_.sequence() + 1);
  chain_.leg(account_id(AccountKind::wallet, command.party),
      account_id(AccountKind::bank_clearing, command.bank.channel), command.amount,
      TransferCode::withdrawal, command.id, ledger_cny, ledger::transfer_pending, 0,
      withdrawal_hold_timeout_s);
  if (Result r = chain_.commit(); r != Result::ok) return outcome(r);
  WithdrawalRecord withdrawal{};
  withdrawal.id = ++record_sequence_;
  withdrawal.user = command.party;
  withdrawal.amount = command.amount;
  withdrawal.hold_transfer = hold;
  withdrawal.channel = command.bank.channel;
  withdrawal.state = WithdrawalState::held;
  withdrawals_.put(withdrawal.id, withdrawal);
  return outcome(Result::ok, static_cast<std::int64_t>(withdrawal.id));
}

std::vector<WithdrawalRecord> Payments::held_withdrawals() const {
  std::vector<WithdrawalRecord> held;
  withdrawals_.for_each([&](const WithdrawalRecord& withdrawal) {
    if (withdrawal.state == WithdrawalState::held) held.push_back(withdrawal);
  });
  return held;
}

Outcome Payments::withdraw_settle(const Command& command) noexcept {
  const WithdrawalRecord* found = withdrawals_.find(command.target);
  if (found == nullptr) return outcome(Result::withdrawal_not_found);
  WithdrawalRecord withdrawal = *found;
  if (withdrawal.state != WithdrawalState::held) return outcome(Result::withdrawal_settled);
  const ledger::TransferRecord* hold = ledger_.find_transfer(withdrawal.hold_transfer);
  CAP_ASSERT(hold != nullptr);
  if (hold->status == ledger::PendingStatus::expired) {
    withdrawal.state = WithdrawalState::returned;
    withdrawals_.put(withdrawal.id, withdrawal);
    return outcome(Result::withdrawal_settled);
  }
  CAP_ASSERT(hold->status == ledger::PendingStatus::pending);
  const bool paid_out = command.bank.outcome == BankOutcome::approved;
  // Ledger and code 0: as the pending transfer.
  chain_.leg(0, 0, paid_out ? withdrawal.amount : 0, TransferCode{0}, command.bank.reference, 0,
             paid_out ? ledger::transfer_post_pending : ledger::transfer_void_pending,
             withdrawal.hold_transfer);
  const Result settled = chain_.commit();
  CAP_ASSERT(settled == Result::ok);
  withdrawal.state = paid_out ? WithdrawalState::paid_out : WithdrawalState::returned;
  withdrawal.bank_reference = paid_out ? command.bank.reference : 0;
  withdrawals_.put(withdrawal.id, withdrawal);
  return outcome(paid_out ? Result::ok : bank_result(command.bank), withdrawal.amount);
}

Outcome Payments::transfer(const Command& command, TransferCode code, bool to_merchant) noexcept {
  if (Result r = check_amount(command.amount); r != Result::ok) return outcome(r);
  if (users_.find(command.party) == nullptr) return outcome(Result::user_not_found);
  const bool payee_open = to_merchant ? merchants_.find(command.counterparty) != nullptr
                                      : users_.find(command.counterparty) != nullptr;
  if (!payee_open) return outcome(Result::counterparty_not_found);
  if (!to_merchant && command.counterparty == command.party) return outcome(Result::same_party);
  chain_.leg(account_id(AccountKind::wallet, command.party),
      account_id(to_merchant ? AccountKind::merchant : AccountKind::wallet, command.counterparty),
      command.amount, code, command.reference);
  const Result result = chain_.commit();
  if (result == Result::ok && to_merchant) add_settlement(command.counterparty, command.amount, 0, 0, 1);
  return outcome(result, command.amount);
}

// Paid at once, no escrow: the sources go straight to the merchant, which pays its fee in the
// same chain.
Outcome Payments::qr_pay(const Command& command) noexcept {
  if (Result r = check_amount(command.amount); r != Result::ok) return outcome(r);
  if (users_.find(command.party) == nullptr) return outcome(Result::user_not_found);
  const MerchantRecord* merchant = merchants_.find(command.counterparty);
  if (merchant == nullptr) return outcome(Result::counterparty_not_found);
  Funded funded{};
  const std::uint64_t at = chain_.now();
  if (Result r = fund(command, command.amount, account_id(AccountKind::merchant, merchant->id),
                      0, TransferCode::qr_payment, &funded);
      r != Result::ok) {
    return outcome(r);
  }
  const std::int64_t fee = fee_half_up(command.amount, merchant->fee_bps);
  if (fee > 0) {
    chain_.leg(account_id(AccountKind::merchant, merchant->id), platform_account(PlatformAccount::fee_income),
        fee, TransferCode::fee, 0);
  }
  const Result result = chain_.commit();
  if (result != Result::ok) return outcome(result);
  note_fund_spent(command, funded, at);
  if (funded.coupon > 0) note_coupon_used(command.funding.campaign, command.party);
  add_settlement(merchant->id, command.amount, fee, 0, 1);
  return outcome(Result::ok, fee);
}

}  // namespace capillary::payments
