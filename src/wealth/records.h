#pragma once
// The wealth marketplace's state: fixed-size records, hashed into the state hash and written byte
// for byte into checkpoints (so no padding, sizes asserted). Money is in fen, rates in millionths
// a year (4.35% = 43500), times in ns since the epoch.

#include <cstdint>
#include <type_traits>

namespace capillary::wealth {

enum class ProductState : std::uint8_t {
  listed = 1,       // admitted, its sale window not open yet
  on_sale = 2,      // in its sale window: the matcher fills standing orders into it
  established = 3,  // fully subscribed at close: the issuer holds the money, the term runs
  matured = 4,      // principal and interest paid back to every holder
  unfilled = 5,     // below its size at close: every fill was refunded
  cancelled = 6,    // cancelled by the issuer or the platform before close: every fill refunded
};

struct ProductRecord {
  std::uint64_t id;
  std::uint64_t issuer;          // the institution
  std::uint64_t sequence;        // listing order: the matcher's last tie-break
  std::uint64_t listed_at_ns;
  std::uint64_t valid_from_ns;   // the sale opens
  std::uint64_t valid_to_ns;     // the sale closes and, when established, the term starts
  std::uint64_t matures_at_ns;   // valid_to + term days
  std::int64_t size;             // what the issuer raises when fully subscribed
  std::int64_t min_amount;       // the smallest fill it takes
  std::int64_t sold;             // the sum of its fills
  std::int64_t repaid;           // principal and interest paid at maturity
  std::uint32_t rate_ppm;        // expected annual rate
  std::uint32_t term_days;
  std::uint32_t fills;
  ProductState state;
  std::uint8_t reserved[3];
};
static_assert(sizeof(ProductRecord) == 104 && std::has_unique_object_representations_v<ProductRecord>);

enum class StandingOrderState : std::uint8_t {
  open = 1,       // some money still unmatched, waiting for an eligible product
  filled = 2,     // every fen matched
  cancelled = 3,  // cancelled by the user: the unmatched money went back to the wallet
};

// A user's standing instruction: invest `amount` in products paying at least `min_rate_ppm` for at
// most `max_term_days`. amount == filled + unmatched + released at all times.
struct StandingOrderRecord {
  std::uint64_t id;
  std::uint64_t user;
  std::uint64_t sequence;        // placement order: first come, first served
  std::uint64_t placed_at_ns;
  std::int64_t amount;
  std::int64_t unmatched;        // held in the order's account
  std::int64_t filled;           // moved into products
  std::int64_t released;         // returned to the wallet on cancel
  std::uint32_t max_term_days;
  std::uint32_t min_rate_ppm;
  std::uint32_t fills;
  StandingOrderState state;
  std::uint8_t reserved[3];
};
static_assert(sizeof(StandingOrderRecord) == 80 &&
              std::has_unique_object_representations_v<StandingOrderRecord>);

// One match: `amount` of `order` (of `user`) moved into `product`. An order fills a product at
// most once, so partial fills show as several fills of one order, or as one fill short of it.
struct FillRecord {
  std::uint64_t id;              // the marketplace's fill sequence: the order fills happened in
  std::uint64_t order;
  std::uint64_t product;
  std::uint64_t user;
  std::uint64_t at_ns;
  std::int64_t amount;
};
static_assert(sizeof(FillRecord) == 48 && std::has_unique_object_representations_v<FillRecord>);

// A user's stake in one product: the sum of that user's fills into it. Principal and interest
// are paid per holding at maturity, interest rounded on the holding's whole principal.
struct HoldingRecord {
  std::uint64_t product;
  std::uint64_t user;
  std::int64_t principal;
  std::int64_t interest_paid;    // 0 until maturity
};
static_assert(sizeof(HoldingRecord) == 32 && std::has_unique_object_representations_v<HoldingRecord>);

// What the API shows of a holding.
struct HoldingView {
  std::uint64_t product;
  std::int64_t principal;
  std::int64_t expected_interest;  // what maturity pays on top of the principal (paid, once matured)
  std::uint64_t matures_at_ns;
  ProductState state;
};

}  // namespace capillary::wealth
