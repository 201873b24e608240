#pragma once
// The wire format of institutions, the money-market fund and the wealth marketplace
// (docs/products-api.md): request bodies into payment commands, and the module records into JSON.

#include <cstdint>
#include <string>
#include <string_view>

#include "server/json_fields.h"
#include "server/payment_json.h"

namespace capillary::server {

// Fills `step` for one of the product ops (PaymentOp::open_institution and after).
[[nodiscard]] bool parse_product_step(Fields& fields, std::uint64_t path_id, const Caller& caller,
                                      PaymentStep* step, ApiError* error);

// "0.6500" → 6500 with `decimals` = 4: a non-negative decimal string with at most `decimals`
// digits after the point, as an integer in units of 10^-decimals; false when it is not one or
// passes `max`.
[[nodiscard]] bool parse_fixed_point(std::string_view text, int decimals, std::uint64_t max,
                                     std::uint64_t* out);
// 6500, 4 → "0.6500".
std::string format_fixed_point(std::uint64_t value, int decimals);

// {"advance_s": N}: how far to move business time forward, 1 s to a year.
[[nodiscard]] bool parse_clock_advance(std::string& body, std::uint64_t* seconds, ApiError* error);

// "2026-11-20" ↔ days since 1970-01-01.
[[nodiscard]] bool parse_date(std::string_view text, std::uint64_t* day);
std::string format_date(std::uint64_t day);

}  // namespace capillary::server
