#pragma once
// The payments module's own state: fixed-size records, hashed into the state hash and written
// byte for byte into checkpoints (so, like journal records, no padding and sizes asserted).

#include <cstdint>
#include <type_traits>

#include "payments/command.h"
#include "payments/result.h"

namespace capillary::payments {

struct UserRecord {
  std::uint64_t id;
  std::uint64_t opened_at;
  std::uint64_t verified;
};
static_assert(sizeof(UserRecord) == 24 && std::has_unique_object_representations_v<UserRecord>);

// A partner: bank, insurer, fund company or other institution. What it may offer depends on its
// kind and figures (wealth admission), recorded when the platform opens it.
struct InstitutionRecord {
  std::uint64_t id;
  std::uint64_t opened_at;
  std::uint64_t assets;        // total assets, fen
  InstitutionKind kind;
  std::uint32_t solvency_bps;  // solvency ratio (insurers), basis points
  std::uint32_t reserved;
};
static_assert(sizeof(InstitutionRecord) == 40 &&
              std::has_unique_object_representations_v<InstitutionRecord>);

struct MerchantRecord {
  std::uint64_t id;
  std::uint64_t opened_at;
  std::uint32_t fee_bps;
  std::uint32_t auto_confirm_s;
};
static_assert(sizeof(MerchantRecord) == 24 && std::has_unique_object_representations_v<MerchantRecord>);

enum class OrderState : std::uint8_t {
  awaiting_payment = 1,
  paid = 2,      // the buyer's money is in escrow
  released = 3,  // confirmed (by the buyer or the clock): the merchant was paid less the fee
  refunded = 4,  // every fen went back before release
  closed = 5,    // cancelled before payment
};

// What an order's refunds did beyond moving money back to the sources.
enum OrderFlag : std::uint8_t {
  order_coupon_restored = 1,        // the coupon was handed back to the buyer on refund
  order_card_refund_to_wallet = 2,  // the bank did not credit the card: that part went to the wallet
};

struct OrderRecord {
  std::uint64_t id;
  std::uint64_t merchant;
  std::uint64_t buyer;           // the payer (or the only buyer allowed, when set at creation)
  std::int64_t amount;
  std::uint64_t created_at;
  std::uint64_t paid_at;
  std::uint64_t release_at;      // auto-confirm deadline once paid
  std::uint64_t reference;       // the merchant's order number (hash)
  std::int64_t held;             // in escrow now
  std::int64_t released;         // paid to the merchant at release, fee included
  std::int64_t fee;              // charged at release
  std::int64_t refunded;         // returned to the buyer, before and after release
  // What each source still has to be refunded before release.
  std::int64_t from_wallet;
  std::int64_t from_red_packet;
  std::int64_t from_card;
  std::int64_t from_coupon;
  std::int64_t from_fund;        // fund shares redeemed instantly
  std::uint64_t campaign;
  std::uint64_t fund;            // the fund whose shares paid, when some did
  std::uint32_t channel;         // the card's channel, when a card paid
  std::uint16_t events;          // state changes so far: the next notification's sequence
  OrderState state;
  std::uint8_t flags;            // OrderFlag bits
};
static_assert(sizeof(OrderRecord) == 160 && std::has_unique_object_representations_v<OrderRecord>);

struct RedPacketRecord {
  std::uint64_t id;
  std::uint64_t sender;
  std::uint64_t created_at;
  std::uint64_t expires_at;
  std::uint64_t seed;
  std::int64_t total;
  std::int64_t remaining;
  std::uint32_t count;
  std::uint32_t claimed;
  std::uint32_t split;
  std::uint32_t expired;         // 1 once the remainder went back to the sender
};
static_assert(sizeof(RedPacketRecord) == 72 && std::has_unique_object_representations_v<RedPacketRecord>);

struct CampaignRecord {
  std::uint64_t id;
  std::uint64_t funder;          // a principal: the platform or a merchant
  std::int64_t budget;           // funded at creation
  CampaignTerms terms;
};
static_assert(sizeof(CampaignRecord) == 64 && std::has_unique_object_representations_v<CampaignRecord>);

enum class WithdrawalState : std::uint32_t { held = 1, paid_out = 2, returned = 3 };

struct WithdrawalRecord {
  std::uint64_t id;
  std::uint64_t user;
  std::int64_t amount;
  std::uint64_t hold_transfer;
  std::uint64_t bank_reference;  // the payout's, once approved
  std::uint32_t channel;
  WithdrawalState state;
};
static_assert(sizeof(WithdrawalRecord) == 48 && std::has_unique_object_representations_v<WithdrawalRecord>);

// Counters keyed by two ids: a user's claim on a red packet, a user's coupons in use from a
// campaign.
struct PairRecord {
  std::uint64_t first;
  std::uint64_t second;
  std::uint64_t count;
};
static_assert(sizeof(PairRecord) == 24 && std::has_unique_object_representations_v<PairRecord>);

// A merchant's business day: what was released to it, the fees and the refunds.
struct SettlementRecord {
  std::uint64_t merchant;
  std::uint64_t day;             // business days since the epoch (UTC+8)
  std::uint64_t orders;          // released or QR-paid
  std::int64_t gross;
  std::int64_t fees;
  std::int64_t refunds;          // refunds after release, taken from the merchant's balance
};
static_assert(sizeof(SettlementRecord) == 48 && std::has_unique_object_representations_v<SettlementRecord>);

struct IdempotencyRecord {
  std::uint64_t id;
  std::uint64_t request_hash;
  Outcome outcome;
};
static_assert(sizeof(IdempotencyRecord) == 32 && std::has_unique_object_representations_v<IdempotencyRecord>);

// A change of an order's state, for the merchant's notification.
struct OrderEvent {
  std::uint64_t merchant;
  std::uint64_t order;
  std::uint64_t timestamp;
  std::int64_t amount;           // the order's amount
  std::int64_t refunded;         // refunded so far
  std::uint16_t sequence;        // 1, 2, ... per order
  OrderState state;
  std::uint8_t reserved[5];
};

}  // namespace capillary::payments
