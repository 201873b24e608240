#pragma once
// Payment commands: what the payments module of the state machine applies. Each is one fixed-size
// record in the journal (EntryKind::payments), so its layout is a byte format: never reorder or
// resize a field; a new field takes reserved space or a new format version.
//
// Everything a command needs that is not deterministic was decided before it was journaled and is
// written into it: who sent it (the authenticated principal), the bank's answer for a card, the
// seed of a random red-packet split. Replaying the journal therefore never asks anyone anything.
//
// Idempotency: `id` is the command's idempotency key, derived by the API from the principal and
// the client's Idempotency-Key; `request_hash` fingerprints the request. The same id again returns
// the first result (flagged `replayed`) and changes nothing; the same id with another request_hash
// is `idempotency_key_reused`.

#include <cstdint>
#include <type_traits>

namespace capillary::payments {

enum class CommandKind : std::uint16_t {
  open_user = 1,        // party: user; a = 1 when identity-verified
  open_merchant = 2,    // party: merchant; a = fee_bps, b = auto-confirm seconds (0: default)
  top_up = 3,           // user ← card via channel; bank answer in `bank`
  withdraw = 4,         // user → card: holds the amount; settled by withdraw_settle
  withdraw_settle = 5,  // target = the withdraw command's id; bank answer in `bank`
  transfer = 6,         // user → user (counterparty); amount
  pay_bill = 7,         // user → biller merchant (counterparty); reference = bill number
  create_order = 8,     // merchant opens an escrow order for amount; counterparty = buyer (0: anyone)
  pay_order = 9,        // buyer pays target order from `funding`
  confirm_order = 10,   // buyer confirms receipt of target order: escrow is released
  refund_order = 11,    // merchant refunds amount of target order; a card part needs the bank's answer
                        // to crediting it in `bank`, and funding.card = that part (0 in a batch:
                        // whatever the card part is when applied)
  close_order = 12,     // merchant cancels target order before it is paid
  qr_pay = 13,          // buyer pays merchant (counterparty) directly, no escrow, from `funding`
  create_red_packet = 14,  // sender funds `count` packets totalling amount; a = split, seed
  claim_red_packet = 15,   // user claims one packet of target
  create_campaign = 16,    // coupon campaign funded by its funder (principal)
  open_institution = 17,   // party: partner; a = InstitutionKind, b = total assets (fen),
                           // amount = solvency ratio in basis points (150% = 15000)

  // The money-market fund (src/fund, docs/fund.md).
  create_fund = 30,           // partner fund company: target = the new fund's id
  fund_subscribe = 31,        // user: target = fund, amount
  fund_redeem = 32,           // user: target = fund, amount; a = 1: instant only, 0: instant then normal
  fund_declare_income = 33,   // owner: target = fund, a = day, b = income per 10,000 shares (1/10,000 CNY)
  fund_income_step = 34,      // owner or platform: target = fund, a = day, b = most holders to pay
  fund_deposit_float = 35,    // owner: target = fund, amount from its institution account

  // The wealth marketplace (src/wealth, docs/wealth.md).
  list_product = 40,           // partner issuer: target = new product, amount = size, a = term days,
                               // b = annual rate (millionths), terms.min_spend = minimum amount,
                               // terms.valid_from_ns..valid_to_ns = sale window
  place_standing_order = 41,   // user: target = new order, amount, a = max term days, b = min rate
  cancel_standing_order = 42,  // user: target = the order
  cancel_product = 43,         // issuer or platform: target = the product, before it is established
};

// What an institution is, which decides what it may offer (wealth admission, fund companies).
enum class InstitutionKind : std::uint64_t { bank = 1, insurer = 2, fund_company = 3, other = 4 };

// Who sent a command, as authenticated by the API. The platform may act for anyone.
enum class PartyKind : std::uint8_t { none = 0, platform = 1, merchant = 2, partner = 3, user = 4 };

// A principal in one word: kind in the top byte, party id below. Party ids are below 2^56.
inline constexpr std::uint64_t party_id_max = (1ull << 56) - 1;
constexpr std::uint64_t principal(PartyKind kind, std::uint64_t id) {
  return (std::uint64_t{static_cast<std::uint8_t>(kind)} << 56) | id;
}
constexpr PartyKind principal_kind(std::uint64_t principal) {
  return static_cast<PartyKind>(principal >> 56);
}
constexpr std::uint64_t principal_id(std::uint64_t principal) { return principal & party_id_max; }

enum class BankOutcome : std::uint8_t {
  none = 0,      // no bank involved
  approved = 1,
  declined = 2,  // the bank said no (insufficient funds at the bank, card blocked, ...)
  failed = 3,    // no answer, an error or a timeout: the bank did nothing
};

// The risk engine's verdict on a command, decided before journaling so replay never re-decides.
// A denied command, or a challenged one, moves nothing.
enum class RiskVerdict : std::uint8_t { none = 0, allow = 1, challenge = 2, deny = 3 };

// A bank's answer, decided before journaling.
struct BankAnswer {
  std::uint64_t reference;  // the bank's reference for the operation (0 when none)
  std::uint32_t channel;    // the channel that carried it
  BankOutcome outcome;
  std::uint8_t reserved[3];
};
static_assert(sizeof(BankAnswer) == 16 && std::has_unique_object_representations_v<BankAnswer>);

// How a payment is funded: the amounts must add up to the amount due exactly.
struct Funding {
  std::int64_t wallet;
  std::int64_t red_packet;  // the buyer's red-packet balance
  std::int64_t card;        // charged through `bank` (must be approved)
  std::int64_t fund;        // money-market fund shares, redeemed instantly (the fund's id in `b`)
  std::int64_t credit;      // credit line: not enabled yet
  std::uint64_t campaign;   // coupon campaign applied (0: none); its value is part of the amount
};
static_assert(sizeof(Funding) == 48 && std::has_unique_object_representations_v<Funding>);

// Red-packet split kinds (create_red_packet's `a`).
inline constexpr std::uint64_t split_fixed = 1;
inline constexpr std::uint64_t split_random = 2;

// Coupon campaign terms (create_campaign's fields).
struct CampaignTerms {
  std::int64_t value;          // fen off each payment that uses a coupon
  std::int64_t min_spend;      // payment amount (before the coupon) must be at least this
  std::uint64_t valid_from_ns;
  std::uint64_t valid_to_ns;   // a coupon is usable while valid_from <= now < valid_to
  std::uint32_t per_user_limit;
  std::uint32_t reserved;
};
static_assert(sizeof(CampaignTerms) == 40 && std::has_unique_object_representations_v<CampaignTerms>);

struct Command {
  std::uint64_t id;            // idempotency key (never 0)
  std::uint64_t request_hash;  // fingerprint of the request behind it
  std::uint64_t principal;     // who sent it
  std::uint64_t party;         // the user or merchant the command is about (the actor)
  std::uint64_t counterparty;  // payee, biller, merchant or buyer, by kind
  std::uint64_t target;        // the order, red packet or withdrawal acted on; or the new one's id
  std::int64_t amount;
  std::uint64_t a;             // kind-specific (see CommandKind)
  std::uint64_t b;
  std::uint64_t reference;     // the client's reference (bill number, merchant order number hash)
  BankAnswer bank;
  Funding funding;
  CampaignTerms terms;
  CommandKind kind;
  RiskVerdict risk;            // decided before journaling (docs/risk.md); none when not assessed
  std::uint8_t reserved8;
  std::uint32_t risk_rule_set; // the rule set version that decided
  std::uint64_t seed;          // randomness decided before journaling (red-packet split)
};
static_assert(sizeof(Command) == 200 && std::has_unique_object_representations_v<Command>);

}  // namespace capillary::payments
