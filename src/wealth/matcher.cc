// The matcher: which standing orders go into which products, and how much. It only decides and
// appends legs; the records change in record_matches(), once the chain carrying the legs committed.

#include <algorithm>

#include "core/assert.h"
#include "payments/accounts.h"
#include "wealth/limits.h"
#include "wealth/market.h"

namespace capillary::wealth {

using payments::AccountKind;

// A newly placed order against every product on sale, best rank first. on_sale_ is ordered by
// rate descending, so the walk stops at the first product below the order's minimum rate.
void Market::match_order(const StandingOrderRecord& order, payments::Chain& chain) {
  std::int64_t unmatched = order.unmatched;
  for (const Rank& rank : on_sale_) {
    if (unmatched == 0 || rank.rate_ppm < order.min_rate_ppm) break;
    if (rank.term_days > order.max_term_days) continue;
    const ProductRecord* product = products_.find(rank.id);
    CAP_ASSERT(product != nullptr && product->state == ProductState::on_sale);
    if (product->fills >= product_fills_max) continue;
    const std::int64_t fill = std::min(unmatched, product->size - product->sold);
    if (fill == 0 || fill < product->min_amount) continue;
    add_match({order.id, product->id, order.user, fill}, chain);
    unmatched -= fill;
  }
}

// A product whose sale opens against every open order, first placed first.
void Market::match_product(const ProductRecord& product, payments::Chain& chain) {
  CAP_ASSERT(product.fills == 0);
  std::int64_t unsold = product.size - product.sold;
  std::uint32_t fills = 0;
  for (const auto& [sequence, id] : open_orders_) {
    if (unsold == 0 || fills == product_fills_max) break;
    const StandingOrderRecord* order = orders_.find(id);
    CAP_ASSERT(order != nullptr && order->state == StandingOrderState::open);
    if (product.rate_ppm < order->min_rate_ppm || product.term_days > order->max_term_days) continue;
    const std::int64_t fill = std::min(order->unmatched, unsold);
    if (fill < product.min_amount) continue;
    add_match({order->id, product.id, order->user, fill}, chain);
    unsold -= fill;
    ++fills;
  }
}

void Market::add_match(const Match& match, payments::Chain& chain) {
  CAP_ASSERT(match.amount > 0);
  const std::uint64_t fill_id = fill_sequence_ + matches_.size() + 1;
  chain.leg(payments::account_id(AccountKind::wealth_order, match.order),
            payments::account_id(AccountKind::wealth_product, match.product), match.amount,
            payments::TransferCode::wealth_subscribe, fill_id);
  matches_.push_back(match);
}

void Market::record_matches(std::uint64_t at_ns) {
  for (const Match& match : matches_) {
    FillRecord fill{++fill_sequence_, match.order, match.product, match.user, at_ns, match.amount};
    fills_.put(fill.id, fill);
    product_fills_.insert({fill.product, fill.id});
    order_fills_.insert({fill.order, fill.id});

    StandingOrderRecord order = *orders_.find(match.order);
    CAP_ASSERT(order.state == StandingOrderState::open && order.unmatched >= match.amount);
    order.unmatched -= match.amount;
    order.filled += match.amount;
    ++order.fills;
    if (order.unmatched == 0) order.state = StandingOrderState::filled;
    put_order(order);

    ProductRecord product = *products_.find(match.product);
    CAP_ASSERT(product.state == ProductState::on_sale && product.sold + match.amount <= product.size);
    CAP_ASSERT(match.amount >= product.min_amount && product.fills < product_fills_max);
    product.sold += match.amount;
    ++product.fills;
    put_product(product);

    HoldingRecord holding{match.product, match.user, 0, 0};
    if (const HoldingRecord* found = holdings_.find({match.product, match.user})) holding = *found;
    holding.principal += match.amount;
    holdings_.put({match.product, match.user}, holding);
    product_holders_.insert({match.product, match.user});
    user_products_.insert({match.user, match.product});
  }
  matches_.clear();
}

}  // namespace capillary::wealth
