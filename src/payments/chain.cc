#include "payments/chain.h"

#include "core/assert.h"

namespace capillary::payments {
namespace {

// A leg that failed for lack of money, in the terms of the account that ran short.
Result shortfall(std::uint64_t debit_account) {
  switch (static_cast<AccountKind>((debit_account >> 56) & 0x7f)) {
    case AccountKind::wallet: return Result::insufficient_wallet;
    case AccountKind::red_packet: return Result::insufficient_red_packet;
    case AccountKind::merchant: return Result::insufficient_merchant_balance;
    case AccountKind::campaign: return Result::coupon_budget_exhausted;
    case AccountKind::fund_float: return Result::fund_float_exhausted;
    case AccountKind::fund_shares_confirmed: return Result::fund_holding_insufficient;
    default: return Result::ledger_rejected;
  }
}

}  // namespace

Chain::Chain(ledger::Ledger& ledger) : ledger_(ledger) {
  legs_.reserve(16);
  results_.reserve(16);
}

ledger::AccountSpec account_spec(AccountKind kind, std::uint64_t id, std::uint64_t owner,
                                 std::uint16_t flags, std::uint32_t ledger_id) {
  ledger::AccountSpec account{};
  account.id = account_id(kind, id);
  account.owner = owner;
  account.ledger = ledger_id;
  account.code = static_cast<std::uint16_t>(kind);
  account.flags = flags;
  return account;
}

void Chain::leg(std::uint64_t debit, std::uint64_t credit, std::int64_t amount, TransferCode code,
                std::uint64_t user_data, std::uint32_t ledger_id, std::uint16_t flags,
                std::uint64_t pending_id, std::uint32_t timeout_s) {
  ledger::Transfer transfer{};
  transfer.id = next_transfer_id();
  transfer.debit_account_id = debit;
  transfer.credit_account_id = credit;
  transfer.amount = amount;
  transfer.pending_id = pending_id;
  transfer.user_data = user_data;
  transfer.timeout_s = timeout_s;
  transfer.ledger = ledger_id;
  transfer.code = static_cast<std::uint16_t>(code);
  transfer.flags = flags;
  legs_.push_back(transfer);
}

// Running short on a source is the business rejection of that source; any other failure is a bug
// in a module or an exhausted cell.
Result Chain::commit() noexcept {
  if (legs_.empty()) return Result::ok;
  for (std::size_t i = 0; i + 1 < legs_.size(); ++i) legs_[i].flags |= ledger::transfer_linked;
  results_.resize(legs_.size());
  ledger_.create_transfers(legs_, now_, results_);
  now_ += legs_.size();
  for (std::size_t i = 0; i < legs_.size(); ++i) {
    const ledger::CreateTransferResult result = results_[i];
    if (result == ledger::CreateTransferResult::ok ||
        result == ledger::CreateTransferResult::linked_event_failed) {
      continue;
    }
    const std::uint64_t debit = legs_[i].debit_account_id;
    legs_.clear();
    if (result == ledger::CreateTransferResult::exceeds_credits) {
      const Result short_of = shortfall(debit);
      CAP_ASSERT(short_of != Result::ledger_rejected);  // only those accounts may run short
      return short_of;
    }
    CAP_ASSERT(result == ledger::CreateTransferResult::transfers_full ||
               result == ledger::CreateTransferResult::overflows_credits_posted ||
               result == ledger::CreateTransferResult::overflows_debits_posted ||
               result == ledger::CreateTransferResult::overflows_credits ||
               result == ledger::CreateTransferResult::overflows_debits);
    return Result::ledger_rejected;
  }
  sequence_ += legs_.size();
  legs_.clear();
  return Result::ok;
}

Result Chain::ensure_account(AccountKind kind, std::uint64_t id, std::uint16_t flags,
                             std::uint32_t ledger_id, std::uint64_t owner) noexcept {
  if (ledger_.find_account(account_id(kind, id)) != nullptr) return Result::ok;
  const ledger::AccountSpec account = account_spec(kind, id, owner, flags, ledger_id);
  return open_accounts({&account, 1});
}

Result Chain::open_accounts(std::span<const ledger::AccountSpec> specs) noexcept {
  std::vector<ledger::AccountSpec> group(specs.begin(), specs.end());
  for (std::size_t i = 0; i + 1 < group.size(); ++i) group[i].flags |= ledger::account_linked;
  std::vector<ledger::CreateAccountResult> results(group.size());
  ledger_.create_accounts(group, now_, results);
  now_ += group.size();
  for (const ledger::CreateAccountResult result : results) {
    if (result == ledger::CreateAccountResult::accounts_full) return Result::ledger_rejected;
    // Modules check their own records first, so their accounts cannot exist already.
    CAP_ASSERT(result == ledger::CreateAccountResult::ok);
  }
  return Result::ok;
}

std::int64_t Chain::available(std::uint64_t account) const noexcept {
  const ledger::Account* found = ledger_.find_account(account);
  if (found == nullptr) return 0;
  return found->credits_posted - found->debits_posted - found->debits_pending;
}

}  // namespace capillary::payments
