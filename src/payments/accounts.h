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
};

}  // namespace capillary::payments
