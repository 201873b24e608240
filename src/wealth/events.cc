// The marketplace's clock: sales opening and closing, and maturities. Each event is its own
// committed chain. Their legs only move money the module knows is there (a product's or order's
// account holds exactly what its record says), or draw on an issuer's institution account, which
// may run a debit; so a failing chain means a broken invariant or an exhausted cell, and stops.

#include "core/assert.h"
#include "payments/accounts.h"
#include "wealth/interest.h"
#include "wealth/market.h"

namespace capillary::wealth {

using payments::AccountKind;
using payments::Result;
using payments::TransferCode;

void Market::advance(payments::Chain& chain) noexcept {
  CAP_ASSERT(chain.size() == 0 && matches_.empty());
  const std::uint64_t now = chain.now();
  while (!deadlines_.empty() && deadlines_.begin()->at <= now) {
    const Deadline due = *deadlines_.begin();
    const ProductRecord* found = products_.find(due.product.id);
    CAP_ASSERT(found != nullptr);
    const ProductRecord product = *found;
    switch (due.event) {
      case Event::open: open_sale(product, chain); break;
      case Event::close: close_sale(product, chain); break;
      case Event::mature: mature(product, chain); break;
    }
    CAP_ASSERT(!deadlines_.contains(due));
  }
}

std::optional<std::uint64_t> Market::next_deadline() const noexcept {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->at;
}

void Market::open_sale(const ProductRecord& product, payments::Chain& chain) noexcept {
  CAP_ASSERT(product.state == ProductState::listed && product.sold == 0);
  ProductRecord selling = product;
  selling.state = ProductState::on_sale;
  match_product(selling, chain);
  const Result committed = chain.commit();
  CAP_ASSERT(committed == Result::ok);
  set_product_state(product, ProductState::on_sale);
  record_matches(chain.now());
}

// "Unfilled" means below its size when the sale closes: a product raises its whole size or
// nothing, so the issuer never gets part of what it asked for.
void Market::close_sale(const ProductRecord& product, payments::Chain& chain) noexcept {
  CAP_ASSERT(product.state == ProductState::on_sale && product.sold <= product.size);
  if (product.sold == product.size) {
    const Result opened = chain.ensure_account(AccountKind::institution, product.issuer, 0,
                                               payments::ledger_cny, product.issuer);
    CAP_ASSERT(opened == Result::ok);
    chain.leg(payments::account_id(AccountKind::wealth_product, product.id),
              payments::account_id(AccountKind::institution, product.issuer), product.sold,
              TransferCode::wealth_raise, product.id);
    const Result committed = chain.commit();
    CAP_ASSERT(committed == Result::ok);
    set_product_state(product, ProductState::established);
    return;
  }
  refund_legs(product, chain);
  const Result committed = chain.commit();
  CAP_ASSERT(committed == Result::ok);
  set_product_state(product, ProductState::unfilled);
}

std::int64_t Market::refund_legs(const ProductRecord& product, payments::Chain& chain) const {
  std::int64_t refunded = 0;
  for (auto it = product_fills_.lower_bound({product.id, 0});
       it != product_fills_.end() && it->first == product.id; ++it) {
    const FillRecord* fill = fills_.find(it->second);
    CAP_ASSERT(fill != nullptr && fill->amount > 0);
    chain.leg(payments::account_id(AccountKind::wealth_product, product.id),
              payments::account_id(AccountKind::wallet, fill->user), fill->amount,
              TransferCode::wealth_refund, fill->id);
    refunded += fill->amount;
  }
  CAP_ASSERT(refunded == product.sold);
  return refunded;
}

// Each holding gets its principal and its interest (rounded on the holding's whole principal) as
// two legs from the issuer, which pays exactly their sum: checked on the issuer's balance itself.
void Market::mature(const ProductRecord& product, payments::Chain& chain) noexcept {
  CAP_ASSERT(product.state == ProductState::established && product.sold == product.size);
  const std::uint64_t issuer = payments::account_id(AccountKind::institution, product.issuer);
  const std::int64_t issuer_before = chain.available(issuer);
  std::int64_t principal = 0, interest = 0;
  for (auto it = product_holders_.lower_bound({product.id, 0});
       it != product_holders_.end() && it->first == product.id; ++it) {
    const HoldingRecord* holding = holdings_.find(*it);
    CAP_ASSERT(holding != nullptr && holding->principal > 0 && holding->interest_paid == 0);
    const std::uint64_t wallet = payments::account_id(AccountKind::wallet, holding->user);
    const std::int64_t earned = interest_half_up(holding->principal, product.rate_ppm, product.term_days);
    chain.leg(issuer, wallet, holding->principal, TransferCode::wealth_principal, product.id);
    if (earned > 0) chain.leg(issuer, wallet, earned, TransferCode::wealth_interest, product.id);
    principal += holding->principal;
    interest += earned;
  }
  CAP_ASSERT(principal == product.sold);
  const Result committed = chain.commit();
  CAP_ASSERT(committed == Result::ok);
  CAP_ASSERT(issuer_before - chain.available(issuer) == principal + interest);

  for (auto it = product_holders_.lower_bound({product.id, 0});
       it != product_holders_.end() && it->first == product.id; ++it) {
    HoldingRecord holding = *holdings_.find(*it);
    holding.interest_paid = interest_half_up(holding.principal, product.rate_ppm, product.term_days);
    holdings_.put(*it, holding);
  }
  ProductRecord matured = product;
  matured.repaid = principal + interest;
  set_product_state(matured, ProductState::matured);
}

}  // namespace capillary::wealth
