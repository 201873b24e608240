#pragma once
// The 12-12-6 scenario as data: how many checkouts, channel choices and payments are due by a
// given time (open-loop pacing), how each payment is funded, and the JSON of each step as a
// request body or as a step of POST /v1/payments/batch (docs/payments-api.md). No I/O here: the
// event loop in load.cc sends what this builds, so all of it is unit-tested (load_test.cc).

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "payments/limits.h"

namespace capillary::cli::load {

// The seeds' peak second, per unit of --scale: 120,000 buyers open checkout, as many choose a
// payment channel, 60,000 pay.
inline constexpr std::uint64_t checkouts_per_s_at_scale_1 = 120'000;
inline constexpr std::uint64_t cashiers_per_s_at_scale_1 = 120'000;
inline constexpr std::uint64_t payments_per_s_at_scale_1 = 60'000;
// Every other checkout goes on to pay.
inline constexpr std::uint64_t checkouts_per_payment =
    checkouts_per_s_at_scale_1 / payments_per_s_at_scale_1;
static_assert(checkouts_per_payment * payments_per_s_at_scale_1 == checkouts_per_s_at_scale_1);
static_assert(cashiers_per_s_at_scale_1 == checkouts_per_s_at_scale_1,
              "every checkout reaches the cashier once");

// Order amounts, fen: 10.00 to 500.00 CNY, uniform; every one meets the coupon's minimum spend.
inline constexpr std::int64_t order_amount_min = 10'00;
inline constexpr std::int64_t order_amount_max = 500'00;
// The platform coupon campaign: 5.00 CNY off a payment of at least 10.00 CNY.
inline constexpr std::int64_t coupon_value = 5'00;
inline constexpr std::int64_t coupon_min_spend = 10'00;
static_assert(coupon_min_spend <= order_amount_min && coupon_value < order_amount_min,
              "every order can take a coupon and still leave something to pay");

// The funding mix of payments, in percent: mostly wallet, the rest split between a coupon with
// the wallet, red-packet balance with the wallet, and a bank card.
inline constexpr std::uint32_t percent_wallet = 70;
inline constexpr std::uint32_t percent_coupon = 10;
inline constexpr std::uint32_t percent_red_packet = 10;
inline constexpr std::uint32_t percent_card = 10;
static_assert(percent_wallet + percent_coupon + percent_red_packet + percent_card == 100);

// A red-packet payment takes at most this share of the amount from the red-packet balance.
inline constexpr std::int64_t red_packet_share_divisor = 4;

enum class FundingKind : std::uint8_t { wallet, coupon, red_packet, card };

// How one payment is funded; wallet + red_packet + card + (campaign ? coupon_value : 0) == amount.
struct Funding {
  FundingKind kind = FundingKind::wallet;
  std::int64_t wallet = 0;
  std::int64_t red_packet = 0;
  std::int64_t card = 0;
  std::uint64_t campaign = 0;
};

// Draws the kind of funding of one payment from the mix.
FundingKind draw_funding_kind(std::mt19937_64& random);
std::int64_t draw_order_amount(std::mt19937_64& random);

// Splits `amount` for `kind`. A red-packet payment takes up to a quarter of the amount from
// `red_packet_balance` (at least 1 fen when there is any) and the rest from the wallet; with no
// red-packet balance it falls back to the wallet alone. Asserts the sum.
Funding split_funding(FundingKind kind, std::int64_t amount, std::int64_t red_packet_balance,
                      std::uint64_t campaign);

// Open-loop pacing: how many events at `per_s` are due `elapsed` after the start, by the clock
// alone (never by what was answered).
std::uint64_t due_by(double per_s, std::chrono::nanoseconds elapsed);

// The payments steps the generator sends. In `requests` mode each is one request: `path` and
// `body`; in `batch` mode each is a step object in {"steps":[...]}.
enum class StepOp : std::uint8_t {
  create_order, cashier, pay, top_up, claim_red_packet, open_user, open_merchant
};

std::string_view op_name(StepOp op);

// Card amounts and top-ups carry their bank's answer, supplied by the platform as a gateway tier
// does after charging the card, instead of a card for the server to charge: the generator measures
// the engine, not the bank simulator (docs/payments-api.md).
inline constexpr std::uint32_t card_channel = 3;
// Merchants open at the platform's default fee.
inline constexpr std::uint32_t merchant_fee_bps = payments::fee_bps_default;

struct Step {
  StepOp op = StepOp::create_order;
  std::uint64_t order = 0;     // cashier, pay: the order id
  std::uint64_t merchant = 0;  // create_order, open_merchant
  std::uint64_t user = 0;      // the buyer, the user opened, topped up or claiming
  std::uint64_t target = 0;    // claim_red_packet: the red packet
  std::int64_t amount = 0;     // create_order, top_up
  Funding funding;             // pay
  std::uint64_t bank_reference = 0;  // top_up and card payments: unique per run
};

// The request path of `step` in requests mode ("/v1/orders", "/v1/orders/7/pay", ...).
std::string step_path(const Step& step);
// Appends the request body of `step` (requests mode).
void append_step_body(const Step& step, std::string* out);
// Appends `step` as an object of a batch's "steps" array, with its idempotency key.
void append_batch_step(const Step& step, std::string_view key, std::string* out);

// One answer of a step: an outcome {"result":"ok","value":"7"}, or a cashier's view of the order
// {"order":"7","state":...}, which reads as ok with the order id as its value.
struct StepAnswer {
  std::string_view result;  // the result code
  std::uint64_t value = 0;  // when "value" is a decimal number or string; 0 otherwise
  bool ok() const { return result == "ok"; }
};

// The elements of the JSON array under `key` in `body` (compact JSON, as the server writes it),
// as slices of `body`; false when there is no such array or it does not close.
bool split_array(std::string_view body, std::string_view key,
                 std::vector<std::string_view>* elements);

// The answers in `body`: each element of a batch answer's "results", or the body itself for a
// single request. False when one is neither an outcome nor a cashier view.
bool parse_answers(std::string_view body, std::vector<StepAnswer>* answers);

// What the ledger says about one order, from GET /v1/orders/{id} or POST /v1/lookup/orders.
struct OrderView {
  std::uint64_t id = 0;
  std::string_view state;
  std::int64_t amount = 0;
  std::int64_t held = 0;
  std::int64_t released = 0;
};

// Reads the fields above from an order's JSON; false when one is missing.
bool parse_order(std::string_view body, OrderView* order);

// An acknowledged payment of `amount` is safe when the order is paid with all of it in escrow,
// or was released with all of it.
bool payment_reconciles(const OrderView& order, std::int64_t amount);

}  // namespace capillary::cli::load
