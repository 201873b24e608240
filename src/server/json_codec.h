#pragma once
// The API's JSON wire format: strict parsing of request bodies into ledger events, and writing
// records, results and errors. The rules (docs/api.md):
// - Integers may be sent as JSON numbers or as decimal strings. 64-bit values (ids, owner,
//   user_data, amounts, balances, timestamps) are always written as decimal strings, because
//   JavaScript numbers hold integers exactly only up to 2^53; 32- and 16-bit values (ledger, code,
//   timeout_s) are written as numbers.
// - Flags are an array of names, or a number (the bit set); they are written as names.
// - Unknown fields, duplicate fields, null, wrong types, fractions and out-of-range integers are
//   errors; so is any text after the top-level object. Parsing either yields every event or an
//   error naming the first offending field, so a bad request never reaches the engine.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/result.h"
#include "ledger/types.h"
#include "store/store.h"

namespace capillary::server {

// A request the API refuses, before anything reaches the engine. Written as
// {"error":{"code":..., "message":..., "field":...}}.
struct ApiError {
  unsigned http_status = 400;
  std::string_view code;  // stable, machine-readable: malformed_json, unknown_field, ...
  std::string message;    // for a person
  std::string field;      // path of the offending field ("transfers[3].amount"), or empty
};

// Spare capacity a body needs past its end for parsing in place; the server reserves it before
// reading a body so the parser never has to copy one.
inline constexpr std::size_t json_padding_bytes = 64;

// Each parser takes the body by reference because simdjson reads a few bytes past the end of its
// input: the string's capacity is grown in place when it lacks that padding.
// {"accounts":[AccountSpec, ...]} with 1 to batch_events_max events.
[[nodiscard]] bool parse_accounts(std::string& body, std::vector<ledger::AccountSpec>* events,
                                  ApiError* error);
// {"transfers":[Transfer, ...]} with 1 to batch_events_max events.
[[nodiscard]] bool parse_transfers(std::string& body, std::vector<ledger::Transfer>* events,
                                   ApiError* error);
// {"ids":[id, ...]} with 1 to batch_events_max ids.
[[nodiscard]] bool parse_ids(std::string& body, std::vector<std::uint64_t>* ids, ApiError* error);

// A decimal u64 as it appears in a path or query string: digits only, no sign, in range.
[[nodiscard]] bool parse_decimal(std::string_view text, std::uint64_t* value);

// Writers append to `out`.
void write_error(std::string& out, const ApiError& error);
// {"results":[{"index":0,"result":"ok"}, ...]}; a rejected event also carries "description".
void write_results(std::string& out, std::span<const ledger::CreateAccountResult> results);
void write_results(std::string& out, std::span<const ledger::CreateTransferResult> results);
void write_account(std::string& out, const ledger::Account& account);
void write_transfer(std::string& out, const ledger::TransferRecord& record);
void write_balances(std::string& out, const ledger::Balances& balances);
// One statement line as seen from `account_id`: its direction, the transfer (as the ledger
// holds it now), balances after.
void write_statement_line(std::string& out, std::uint64_t account_id,
                          const store::StatementLine& line, const ledger::TransferRecord& transfer);
// A JSON string literal, quoted and escaped.
void write_string(std::string& out, std::string_view text);

std::string_view name(ledger::PendingStatus status);

}  // namespace capillary::server
