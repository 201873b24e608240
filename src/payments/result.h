#pragma once
// Result codes of payment commands, one per command. Rejections are data: a rejected command
// changes nothing. Their names are the API's `result` strings and are stored in idempotency
// records: never renumber them, only append.

#include <cstdint>
#include <string_view>

namespace capillary::payments {

#define CAPILLARY_PAYMENT_RESULTS(X)                                                             \
  X(ok, "done")                                                                                 \
  X(idempotency_key_reused, "this idempotency key was used for a different request")            \
  X(invalid_command, "the command kind is unknown or a reserved field is set")                  \
  X(id_must_not_be_zero, "id 0 is reserved")                                                    \
  X(party_id_invalid, "the party id is 0 or too large")                                         \
  X(forbidden, "the caller may not act for this party or on this record")                       \
  X(amount_must_be_positive, "the amount is zero or negative")                                  \
  X(amount_too_large, "the amount is above the single-payment maximum")                         \
  X(fee_bps_invalid, "the fee rate is above 10000 bps")                                         \
  X(user_exists, "a user with this id is already open")                                         \
  X(merchant_exists, "a merchant with this id is already open")                                 \
  X(user_not_found, "no open user has this id")                                                 \
  X(counterparty_not_found, "the payee, biller, merchant or buyer is not open")                 \
  X(merchant_not_found, "no open merchant has this id")                                         \
  X(same_party, "a user cannot pay itself")                                                     \
  X(bank_declined, "the bank declined the card operation")                                      \
  X(bank_failed, "the bank did not answer or failed; nothing was charged")                      \
  X(bank_answer_missing, "a card amount needs an approved bank answer")                         \
  X(insufficient_wallet, "the wallet balance is below the amount")                              \
  X(insufficient_red_packet, "the red-packet balance is below the amount")                      \
  X(insufficient_merchant_balance, "the merchant's balance is below the refund")                \
  X(funding_mismatch, "the funding sources do not add up to the amount due")                    \
  X(fund_not_enabled, "paying from fund shares is not enabled on this platform")                \
  X(credit_not_enabled, "paying from a credit line is not enabled on this platform")            \
  X(order_exists, "an order with this id exists")                                               \
  X(order_not_found, "no order has this id")                                                    \
  X(order_not_payable, "the order is not awaiting payment")                                     \
  X(order_not_paid, "the order is not paid and held in escrow")                                 \
  X(order_already_released, "the order was already confirmed and released")                     \
  X(order_refunded, "the order was fully refunded")                                             \
  X(order_closed, "the order was closed")                                                       \
  X(refund_exceeds_paid, "the refund is more than what is left to refund")                      \
  X(withdrawal_not_found, "no withdrawal has this id")                                          \
  X(withdrawal_settled, "the withdrawal was already settled")                                   \
  X(campaign_exists, "a campaign with this id exists")                                          \
  X(campaign_not_found, "no campaign has this id")                                              \
  X(campaign_terms_invalid, "value, minimum spend, window or per-user limit is invalid")        \
  X(coupon_not_valid_now, "the coupon is outside its validity window")                          \
  X(coupon_min_spend, "the payment is below the coupon's minimum spend")                        \
  X(coupon_limit_reached, "the user has used this campaign's coupons up to the limit")          \
  X(coupon_budget_exhausted, "the campaign's budget cannot fund another coupon")                \
  X(red_packet_exists, "a red packet with this id exists")                                      \
  X(red_packet_not_found, "no red packet has this id")                                          \
  X(red_packet_count_invalid, "a red packet needs 1..red_packet_count_max packets")             \
  X(red_packet_amount_too_small, "every packet must hold at least 0.01")                        \
  X(red_packet_split_invalid, "the split is neither fixed nor random")                          \
  X(red_packet_empty, "every packet of this red packet was claimed")                            \
  X(red_packet_expired, "the red packet expired; its remainder went back to the sender")        \
  X(red_packet_already_claimed, "this user already claimed a packet of this red packet")        \
  X(ledger_rejected, "the ledger rejected a transfer; see the ledger result")                   \
  X(risk_denied, "risk control denied this operation")                                          \
  X(risk_challenge_required, "risk control needs extra verification before this operation")     \
  X(institution_exists, "an institution with this id is already open")                          \
  X(institution_not_found, "no open institution has this id")                                   \
  X(institution_invalid, "the kind is unknown, or the solvency ratio is negative or too large") \
  X(fund_exists, "a fund with this id exists")                                                  \
  X(fund_not_found, "no fund has this id")                                                      \
  X(fund_holding_insufficient, "the confirmed fund shares are below the amount")                \
  X(fund_instant_limit_exceeded, "the amount is above what is left of today's instant redemption limit") \
  X(fund_float_exhausted, "the fund's float cannot advance this instant redemption")            \
  X(fund_income_invalid, "the income per 10,000 shares is negative or too large")               \
  X(fund_income_day_invalid, "the income day is not over yet or not after the last declared day") \
  X(fund_income_already_declared, "income for this fund and day was already declared")          \
  X(fund_income_not_running, "no income run for this fund and day is in progress")              \
  X(fund_income_in_progress, "another income run of this fund is still in progress")            \
  X(product_exists, "a product with this id exists")                                            \
  X(product_not_found, "no product has this id")                                                \
  X(issuer_bank_assets_too_small, "a bank issuer needs total assets over 200 billion CNY")      \
  X(issuer_insurer_solvency_too_low, "an insurer issuer needs a solvency ratio of at least 150%") \
  X(issuer_kind_not_admitted, "only banks and insurers may issue products")                     \
  X(product_terms_invalid, "size, term, rate, minimum amount or sale window is invalid")        \
  X(product_not_on_sale, "the product is not in its sale window")                               \
  X(product_closed, "the product was established, closed or cancelled")                         \
  X(standing_order_exists, "a standing order with this id exists")                              \
  X(standing_order_not_found, "no standing order has this id")                                  \
  X(standing_order_closed, "the standing order was filled or cancelled")                        \
  X(standing_order_terms_invalid, "the amount, minimum rate or maximum term is invalid")        \
  X(below_product_minimum, "the amount is below the product's minimum")                         \
  X(card_refund_mismatch, "the bank's card refund does not match the order's card part or channel")

#define CAPILLARY_ENUM_VALUE(name, description) name,
enum class Result : std::uint8_t { CAPILLARY_PAYMENT_RESULTS(CAPILLARY_ENUM_VALUE) };
#undef CAPILLARY_ENUM_VALUE

inline constexpr int result_count = static_cast<int>(Result::card_refund_mismatch) + 1;

std::string_view name(Result result);
std::string_view description(Result result);

// Where a refund's card part went. The bank credits the card before the refund is journaled; when
// it declines or fails, the card part goes to the buyer's wallet instead, so nothing is stuck.
enum class CardRefund : std::uint8_t { none = 0, to_card = 1, to_wallet = 2 };

// A command's outcome: the code, whether it repeats an earlier command's result, and a value by
// kind (the amount claimed from a red packet, the fee charged at release, ...). Kept in the
// idempotency records, so a retry answers exactly what the first attempt did, card_refund included.
struct Outcome {
  std::int64_t value;
  Result result;
  std::uint8_t replayed;  // 1 when the id was seen before and this is the first result again
  CardRefund card_refund; // refund_order with a card part: where that part went
  std::uint8_t reserved[5];
};
static_assert(sizeof(Outcome) == 16);

constexpr Outcome outcome(Result result, std::int64_t value = 0) {
  Outcome out{};
  out.result = result;
  out.value = value;
  return out;
}

}  // namespace capillary::payments
