#pragma once
// The payments API's wire format (docs/payments-api.md): each request body, or each step of a
// batch, becomes one payments::Command plus what the server must do around it (charge a card
// first, answer from a read). Parsing is strict like the ledger API's: unknown fields, wrong types
// and fractions are errors naming the field; nothing reaches the engine until all of it parsed.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "payments/command.h"
#include "payments/records.h"
#include "payments/result.h"
#include "server/json_codec.h"

namespace capillary::server {

// What a request asks for. The per-request routes map to one op each; a batch names them.
enum class PaymentOp : std::uint8_t {
  open_user,
  open_merchant,
  top_up,
  withdraw,
  transfer,
  pay_bill,
  create_order,
  cashier,
  pay,
  confirm,
  refund,
  close,
  qr_pay,
  create_red_packet,
  claim_red_packet,
  create_campaign,
  // Institutions, the fund and the wealth marketplace (server/product_json.cc).
  open_institution,
  create_fund,
  fund_subscribe,
  fund_redeem,
  fund_declare_income,
  fund_deposit_float,
  list_product,
  cancel_product,
  place_standing_order,
  cancel_standing_order,
};

// Steps in one batch request: a gateway tier's batch, small enough to answer in one round trip.
inline constexpr std::size_t payment_batch_steps_max = 1000;

// A card to charge or pay out to through the bank channels (docs/channels.md).
struct CardRequest {
  bool present = false;
  std::string token;
  std::string bank;
};

// One parsed step. `command` has everything but id, request_hash and principal, which the API
// fills from the authenticated caller and the idempotency key.
struct PaymentStep {
  PaymentOp op = PaymentOp::open_user;
  payments::Command command{};
  CardRequest card;
  bool bank_given = false;  // the platform sent the bank's answer in the body
  std::string key;          // a batch step's idempotency key
  std::string callback_url; // open_merchant: where its order notifications go
  std::string canonical;    // a request's body as parsed, for its request hash (a batch step
                            // comes with its hash in command.request_hash)
};

// Who the step acts for when the body does not say: the authenticated caller.
struct Caller {
  payments::PartyKind kind = payments::PartyKind::none;
  std::uint64_t id = 0;
};

// Parses a per-request body for `op`; `path_id` is the id in the route's path (user, order or red
// packet), 0 when the route has none.
[[nodiscard]] bool parse_payment_request(std::string& body, PaymentOp op, std::uint64_t path_id,
                                         const Caller& caller, PaymentStep* step, ApiError* error);
// {"steps":[{"op":..., "key":..., ...}, ...]}.
[[nodiscard]] bool parse_payment_batch(std::string& body, const Caller& caller,
                                       std::vector<PaymentStep>* steps, ApiError* error);
// {"ids":[...]}: reuses the ledger API's id list.
[[nodiscard]] inline bool parse_order_ids(std::string& body, std::vector<std::uint64_t>* ids,
                                          ApiError* error) {
  return parse_ids(body, ids, error);
}

// What a cashier step answers: what the buyer can pay the order with.
struct CashierView {
  bool found = false;
  std::uint64_t order = 0;
  std::int64_t amount = 0;
  std::int64_t wallet = 0;
  std::int64_t red_packet = 0;
  std::uint32_t channel = 0;  // 0 when no card was named
  payments::OrderState state = payments::OrderState::awaiting_payment;
};

// The 64-bit form of a bank's reference that commands and ledger transfers carry (never 0).
std::uint64_t bank_reference_hash(std::string_view reference);

// {"channel":5,"statement":"<the channel's statement file, CSV>"} (channels/wire.h format).
// debit_card: money in (top-ups, card payments); credit_card: a payout (withdrawals); refund: a
// card payment credited back.
enum class StatementKind : std::uint8_t { debit_card, credit_card, refund };
struct StatementLine {
  std::string date;
  std::string bank_reference;
  std::string our_reference;
  std::int64_t amount = 0;
  StatementKind kind = StatementKind::debit_card;
};
[[nodiscard]] bool parse_reconciliation(std::string& body, std::uint32_t* channel,
                                        std::vector<StatementLine>* lines, ApiError* error);

void write_outcome(std::string& out, const payments::Outcome& outcome);
void write_cashier(std::string& out, const CashierView& view);
void write_order(std::string& out, const payments::OrderRecord& order);
void write_red_packet(std::string& out, const payments::RedPacketRecord& packet);
// held (the payout's outcome not known yet), paid_out or returned (to the wallet).
void write_withdrawal(std::string& out, const payments::WithdrawalRecord& withdrawal);
void write_settlement(std::string& out, const payments::SettlementRecord& settlement);
std::string_view name(payments::OrderState state);

}  // namespace capillary::server
