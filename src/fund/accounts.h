#pragma once
// The ledger accounts of a fund (payments/accounts.h names their kinds), by fund id.

#include <cstdint>

#include "payments/accounts.h"

namespace capillary::fund {

using payments::account_id;
using payments::AccountKind;

constexpr std::uint64_t custody_account(std::uint64_t fund) {
  return account_id(AccountKind::fund_custody, fund);
}
constexpr std::uint64_t float_account(std::uint64_t fund) {
  return account_id(AccountKind::fund_float, fund);
}
constexpr std::uint64_t rounding_account(std::uint64_t fund) {
  return account_id(AccountKind::fund_rounding, fund);
}
constexpr std::uint64_t redemptions_account(std::uint64_t fund) {
  return account_id(AccountKind::fund_redemptions, fund);
}
constexpr std::uint64_t issued_account(std::uint64_t fund) {
  return account_id(AccountKind::fund_shares_issued, fund);
}
constexpr std::uint64_t confirmed_account(std::uint64_t fund) {
  return account_id(AccountKind::fund_shares_confirmed, fund);
}
constexpr std::uint64_t pending_account(std::uint64_t fund) {
  return account_id(AccountKind::fund_shares_pending, fund);
}
constexpr std::uint64_t institution_account(std::uint64_t company) {
  return account_id(AccountKind::institution, company);
}
constexpr std::uint64_t wallet_account(std::uint64_t user) {
  return account_id(AccountKind::wallet, user);
}

}  // namespace capillary::fund
