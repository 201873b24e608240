#pragma once
// GETs of institutions, funds and the wealth marketplace (docs/products-api.md), answered from
// engine state on the engine thread. Who may see what: the platform everything; an institution
// its own record, funds and products; a user its own holdings and standing orders. Products and
// funds are public to every authenticated caller, as a shop window is.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "auth/auth.h"
#include "engine/state.h"

namespace capillary::server {

struct ProductRead {
  enum class Kind : std::uint8_t {
    institution,     // /v1/institutions/{id}
    product,         // /v1/products/{id}
    standing_order,  // /v1/standing-orders/{id}
    user_wealth,     // /v1/users/{id}/wealth
    fund,            // /v1/funds/{id}
    fund_holder,     // /v1/funds/{id}/holders/{user}
    fund_income,     // /v1/funds/{id}/income/{YYYY-MM-DD}
  };
  Kind kind = Kind::product;
  std::uint64_t id = 0;
  std::uint64_t sub = 0;  // the holder's user id, or the income day
};

// The read a GET path names ({"products", "7"} ...), or nothing when it is not one of these.
// `id` is the second segment, parsed.
std::optional<ProductRead> product_read_of(std::span<const std::string_view> segments, std::uint64_t id);

// Writes the answer's body; returns its HTTP status (200, or 404 for what the caller may not see).
// `now_ns` is business time (a holder's pending shares and instant limit are as of it).
unsigned answer_product_read(const engine::State& state, const auth::Principal& principal,
                             const ProductRead& read, std::uint64_t now_ns, std::string* body);

}  // namespace capillary::server
