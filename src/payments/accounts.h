#pragma once
// The ledger accounts the payments module opens and moves money between, and the codes it stamps
// on its transfers. Product accounts and transfers live in the top half of the 64-bit id space
// (bit 63 set), which the raw ledger API refuses, so no client id can ever collide with them.
//
//   account id := 1 (bit 63) | kind (7 bits, 62..56) | party or record id (56 bits)
//   transfer id := 1 (bit 63) | 1 (bit 62) | the module's transfer sequence (62 bits)

#include <cstdint>

#include "payments/command.h"

namespace capillary::payments {

// The CNY ledger every payment moves on.
inline constexpr std::uint32_t ledger_cny = 1;
// Money-market fund shares, in hundredths of a share: at the fund's stable value of 1.00 CNY a
// share, one unit is worth one fen.
inline constexpr std::uint32_t ledger_fund_shares = 2;

inline constexpr std::uint64_t product_id_bit = 1ull << 63;
inline constexpr std::uint64_t product_transfer_bit = 1ull << 62;

enum class AccountKind : std::uint8_t {
  wallet = 1,          // a user's balance; never overdrawn
  red_packet = 2,      // a user's red-packet balance, spendable at checkout; never overdrawn
  merchant = 3,        // a merchant's settled balance; never overdrawn
  platform = 4,        // the platform's own accounts (PlatformAccount)
  bank_clearing = 5,   // money moving through a bank channel: a debit balance is owed by the bank
  campaign = 6,        // a coupon campaign's remaining budget; never overdrawn
  packet = 7,          // one red packet's unclaimed money; never overdrawn
  institution = 8,     // a partner's clearing account: a debit balance is owed by the institution,
                       // which wires it through its bank (like bank_clearing)
  fund_custody = 9,    // the cash behind a fund's shares (id: fund); never overdrawn
  fund_float = 10,     // the fund company's float advancing instant redemptions; never overdrawn
  fund_rounding = 11,  // the fen income runs could not share out; never overdrawn
  fund_shares_issued = 12,     // shares ledger: debit balance = the fund's shares outstanding
  fund_shares_confirmed = 13,  // shares ledger: every holder's confirmed shares together
  fund_shares_pending = 14,    // shares ledger: subscriptions awaiting confirmation
  fund_redemptions = 15,       // normal redemptions awaiting next-business-day payout
  wealth_order = 16,   // a standing order's money not yet matched (id: order); never overdrawn
  wealth_product = 17, // a product's subscriptions, held until its sale closes; never overdrawn
};

enum class PlatformAccount : std::uint64_t {
  escrow = 1,       // buyers' money held for orders paid and not yet released
  fee_income = 2,   // merchant fees
  marketing = 3,    // the platform's marketing budget: funds platform coupon campaigns
};

constexpr std::uint64_t account_id(AccountKind kind, std::uint64_t id) {
  return product_id_bit | (std::uint64_t{static_cast<std::uint8_t>(kind)} << 56) | (id & party_id_max);
}
constexpr std::uint64_t platform_account(PlatformAccount which) {
  return account_id(AccountKind::platform, static_cast<std::uint64_t>(which));
}
constexpr std::uint64_t transfer_id(std::uint64_t sequence) {
  return product_id_bit | product_transfer_bit | sequence;
}

// Ledger transfer codes of payment movements (statements show them by name; docs/payments.md).
enum class TransferCode : std::uint16_t {
  top_up = 101,
  withdrawal = 102,
  transfer = 103,
  bill = 104,
  order_payment = 105,   // a funding source → escrow
  order_release = 106,   // escrow → merchant, net of fee
  fee = 107,             // escrow (or merchant, for QR) → fee income
  order_refund = 108,    // escrow → a funding source, or merchant → buyer after release
  qr_payment = 109,
  red_packet_fund = 110,
  red_packet_claim = 111,
  red_packet_return = 112,
  campaign_fund = 113,
  institution_deposit = 114,

  fund_subscribe = 120,
  fund_confirm = 121,
  fund_redeem_instant = 122,
  fund_redeem = 123,
  fund_float_settle = 124,
  fund_income = 125,
  fund_income_residue = 126,
  fund_float_deposit = 127,
  fund_checkout = 128,
  fund_checkout_refund = 129,

  wealth_hold = 140,
  wealth_subscribe = 141,
  wealth_release = 142,
  wealth_refund = 143,
  wealth_raise = 144,
  wealth_principal = 145,
  wealth_interest = 146,
};

}  // namespace capillary::payments
