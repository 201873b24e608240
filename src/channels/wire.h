#pragma once
// The bank simulator's HTTP wire format, spoken by channels::HttpConnector and banksim.
//
//   POST /banks/{channel_id}/debit_card      (or /credit_card)
//   content-type: application/json
//   {"reference":"topup-42","card":"tok_9f2","bank_code":"ICBC","amount_fen":1234}
//   credit_card may add "refund":true: the credit returns a card payment (a refund) instead of
//   paying out, and the statement lists it with kind `refund`.
//
//   200 {"outcome":"approved","bank_reference":"B007-5c1e0a99d3f2e611"}
//   200 {"outcome":"declined","reason":"insufficient_funds","bank_reference":"B007-..."}
//   500 {"error":"bank_error"}                    the bank failed; nothing was done
//   503 {"error":"over_capacity"} + Retry-After   over the bank's TPS; nothing was done
//   400 {"error":"..."}                           malformed request; 404 unknown channel
//
//   GET /banks/{channel_id}/statement  ->  200 text/csv, one line per approved operation in the
//   order the bank approved them, after a header line:
//   date,bank_reference,our_reference,amount_fen,kind
//   2026-11-11,B007-5c1e0a99d3f2e611,topup-42,1234,debit_card
//   kind is debit_card, credit_card (a payout) or refund (a credit_card that returns a payment).
//
//   GET /banks/{channel_id}/operations/{reference}  ->  what the bank did with our reference, for
//   a call whose answer never came (a timeout):
//   200 {"outcome":"approved","bank_reference":"B007-..."}    or declined: as the call was answered
//   404 {"error":"unknown_reference"}             the bank holds no operation by that reference:
//                                                  none was done (it never arrived, or met an error)
//
//   GET /healthz -> 200 "ok"
//
// References, card tokens and bank codes are identifiers: printable ASCII without quotes,
// backslashes, commas or spaces, so they need no escaping in JSON or CSV.

#include <algorithm>
#include <string_view>

namespace capillary::channels::wire {

inline constexpr std::string_view banks_prefix = "/banks/";
inline constexpr std::string_view statement_suffix = "statement";
inline constexpr std::string_view operations_infix = "operations/";
inline constexpr std::string_view unknown_reference_error = "unknown_reference";
inline constexpr std::string_view statement_header =
    "date,bank_reference,our_reference,amount_fen,kind\n";
// The statement's kind for a credit_card call sent with "refund":true.
inline constexpr std::string_view refund_kind = "refund";

inline constexpr unsigned status_ok = 200;
inline constexpr unsigned status_bad_request = 400;
inline constexpr unsigned status_not_found = 404;
inline constexpr unsigned status_bank_error = 500;
inline constexpr unsigned status_over_capacity = 503;

inline bool is_identifier(std::string_view text, std::size_t bytes_max) {
  return !text.empty() && text.size() <= bytes_max &&
         std::all_of(text.begin(), text.end(), [](char c) {
           return c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != ',';
         });
}

}  // namespace capillary::channels::wire
