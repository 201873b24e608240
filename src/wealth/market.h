#pragma once
// The wealth marketplace (Zhao Cai Bao, SPEC §8): admitted institutions list fixed-term products,
// users place standing orders, and a matcher subscribes them automatically. A module of the
// payments state machine: `payments::Payments` owns one Market, hands it the wealth commands
// (list_product .. cancel_product) after idempotency, authorization, risk and the existence of the
// party, and calls advance() with the platform clock.
//
// Money (CNY ledger), every movement a leg of one linked chain per command or clock event:
//   place:    wallet → wealth_order (wealth_hold), then any fills at once
//   fill:     wealth_order → wealth_product (wealth_subscribe)
//   cancel:   wealth_order → wallet (wealth_release): only the unmatched money
//   close:    fully subscribed: wealth_product → issuer's institution account (wealth_raise);
//             below its size at close ("unfilled"), or cancelled before close: each fill
//             wealth_product → the user's wallet (wealth_refund)
//   maturity: issuer's institution account → each holder's wallet, principal (wealth_principal)
//             and interest (wealth_interest) as separate legs; the issuer pays exactly their sum
//
// Matching. An order goes to eligible on-sale products (rate >= its minimum, term <= its maximum)
// best rate first, then shortest term, then first listed; orders compete first come, first served
// (placement order). A fill is min(order's unmatched, product's unsold) and must reach the
// product's minimum amount, else that product is skipped. The matcher runs when an order is placed
// (against every product on sale) and when a sale opens (every open order against that product).
//
// Deterministic: no wall clock (time is chain.now()), and every loop that produces transfers or
// records walks an ordered index, never a hash table's order.
//
// Invariants (check_invariants, asserted where the arithmetic happens):
// - each standing order's account holds exactly its unmatched money; amount == filled + unmatched
//   + released;
// - each product's account holds the sum of its fills while listed or on sale, nothing after;
//   the sum of its fills == sold <= size;
// - a matured product repaid exactly the sum of its holdings' principal and interest;
// - the CNY ledger's posted debits equal its posted credits.

#include <absl/container/btree_map.h>
#include <absl/container/btree_set.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/ledger.h"
#include "payments/chain.h"
#include "payments/command.h"
#include "payments/records.h"
#include "payments/result.h"
#include "payments/table.h"
#include "wealth/records.h"

namespace capillary::wealth {

class Market {
 public:
  Market() = default;
  Market(const Market&) = delete;
  Market& operator=(const Market&) = delete;

  // Applies one wealth command (list_product .. cancel_product). `institution` is the partner of
  // a partner command (known to exist), null for user and platform commands. Outcome values:
  // list_product and place_standing_order → the amount matched at once; cancel_standing_order →
  // the amount released to the wallet; cancel_product → the amount refunded.
  payments::Outcome apply(const payments::Command& command, payments::Chain& chain,
                          const payments::InstitutionRecord* institution) noexcept;
  // Runs every event due at chain.now(), in time order (at one instant: sales opening best product
  // first, then closings, then maturities), each its own committed chain.
  void advance(payments::Chain& chain) noexcept;
  // When advance() next has something to do.
  std::optional<std::uint64_t> next_deadline() const noexcept;

  // Reads for the API. Pointers are valid until the next apply/advance/load.
  const ProductRecord* find_product(std::uint64_t id) const noexcept { return products_.find(id); }
  const StandingOrderRecord* find_order(std::uint64_t id) const noexcept { return orders_.find(id); }
  // A user's holdings, by product id.
  std::vector<HoldingView> holdings(std::uint64_t user) const;
  // An issuer's products, by id.
  std::vector<ProductRecord> products_of_issuer(std::uint64_t issuer) const;
  // Fills in the order they happened.
  std::vector<FillRecord> fills_of_order(std::uint64_t order) const;
  std::vector<FillRecord> fills_of_product(std::uint64_t product) const;

  std::uint64_t state_hash() const noexcept;
  // Empty when every invariant holds, else the first broken one.
  std::string check_invariants(const ledger::Ledger& ledger) const;
  // Appends the whole state; load() reads it back from the front of `in`, consuming it, and
  // rebuilds the ordered indexes. False when it is truncated or of another format.
  void save(std::string* out) const;
  bool load(std::string_view* in);

 private:
  using Pair = std::pair<std::uint64_t, std::uint64_t>;
  // A product's place in the matcher's preference: best rate, shortest term, first listed.
  struct Rank {
    std::uint32_t rate_ppm;
    std::uint32_t term_days;
    std::uint64_t sequence;
    std::uint64_t id;
    bool operator<(const Rank& other) const noexcept;
  };
  enum class Event : std::uint8_t { open = 1, close = 2, mature = 3 };
  struct Deadline {
    std::uint64_t at;
    Event event;
    Rank product;
    bool operator<(const Deadline& other) const noexcept;
  };
  // A fill decided but not yet committed.
  struct Match {
    std::uint64_t order;
    std::uint64_t product;
    std::uint64_t user;
    std::int64_t amount;
  };

  payments::Outcome list_product(const payments::Command& command, payments::Chain& chain,
                                 const payments::InstitutionRecord* institution) noexcept;
  payments::Outcome place_order(const payments::Command& command, payments::Chain& chain) noexcept;
  payments::Outcome cancel_order(const payments::Command& command, payments::Chain& chain) noexcept;
  payments::Outcome cancel_product(const payments::Command& command, payments::Chain& chain) noexcept;

  // The matcher: appends to matches_ (and their legs to `chain`) without changing any record.
  void match_order(const StandingOrderRecord& order, payments::Chain& chain);
  void match_product(const ProductRecord& product, payments::Chain& chain);
  void add_match(const Match& match, payments::Chain& chain);
  // Records matches_ once their chain committed.
  void record_matches(std::uint64_t at_ns);

  // Clock events; each commits its own chain.
  void open_sale(const ProductRecord& product, payments::Chain& chain) noexcept;
  void close_sale(const ProductRecord& product, payments::Chain& chain) noexcept;
  void mature(const ProductRecord& product, payments::Chain& chain) noexcept;
  // Appends a refund leg per fill of `product` to `chain`; returns their sum.
  std::int64_t refund_legs(const ProductRecord& product, payments::Chain& chain) const;
  void set_product_state(ProductRecord product, ProductState state);

  void put_product(const ProductRecord& product);
  void put_order(const StandingOrderRecord& order);
  void index_product(const ProductRecord& product);
  static Rank rank_of(const ProductRecord& product) noexcept;
  std::int64_t expected_interest(const ProductRecord& product, std::int64_t principal) const noexcept;

  payments::Table<std::uint64_t, ProductRecord> products_{41};
  payments::Table<std::uint64_t, StandingOrderRecord> orders_{42};
  payments::Table<std::uint64_t, FillRecord> fills_{43};
  payments::Table<Pair, HoldingRecord> holdings_{44};  // (product, user)
  std::uint64_t sequence_ = 0;                         // listing and placement order
  std::uint64_t fill_sequence_ = 0;

  // Ordered indexes, rebuilt from the tables on load.
  absl::btree_set<Rank> on_sale_;
  absl::btree_map<std::uint64_t, std::uint64_t> open_orders_;  // sequence → order
  absl::btree_set<Deadline> deadlines_;
  absl::btree_set<Pair> product_fills_;    // (product, fill)
  absl::btree_set<Pair> order_fills_;      // (order, fill)
  absl::btree_set<Pair> product_holders_;  // (product, user)
  absl::btree_set<Pair> user_products_;    // (user, product)
  absl::btree_set<Pair> issuer_products_;  // (issuer, product)

  std::vector<Match> matches_;  // scratch of the command or event being applied
};

}  // namespace capillary::wealth
