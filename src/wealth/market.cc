// The marketplace's commands, reads, invariants and checkpoints. The matcher lives in matcher.cc,
// the clock-driven events (sales opening and closing, maturities) in events.cc.

#include "wealth/market.h"

#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>

#include <cstring>
#include <tuple>

#include "core/assert.h"
#include "core/checksum.h"
#include "payments/accounts.h"
#include "wealth/admission.h"
#include "wealth/interest.h"
#include "wealth/limits.h"

namespace capillary::wealth {
namespace {

using payments::AccountKind;
using payments::Command;
using payments::CommandKind;
using payments::Outcome;
using payments::Result;
using payments::TransferCode;
using payments::outcome;

// Bumped when the saved layout changes.
constexpr std::uint64_t save_format_version = 1;

constexpr std::uint16_t never_overdrawn = ledger::account_debits_must_not_exceed_credits;

// The product terms of SPEC §8, each bound a named limit. The terms' coupon fields (value,
// per-user limit) mean nothing for a product and must be zero, so they can take a meaning later.
bool product_terms_valid(const Command& command, std::uint64_t now) {
  const std::uint64_t from = command.terms.valid_from_ns, to = command.terms.valid_to_ns;
  return command.amount > 0 && command.amount <= product_size_max && command.a >= 1 &&
         command.a <= term_days_max && command.b > 0 && command.b <= rate_ppm_max &&
         command.terms.min_spend >= 1 && command.terms.min_spend <= command.amount && from < to &&
         to > now && to - now <= sale_horizon_ns_max && command.terms.value == 0 &&
         command.terms.per_user_limit == 0;
}

bool standing_order_terms_valid(const Command& command) {
  return command.amount > 0 && command.amount <= standing_order_amount_max && command.a >= 1 &&
         command.a <= term_days_max && command.b <= rate_ppm_max;
}

}  // namespace

bool Market::Rank::operator<(const Rank& other) const noexcept {
  // Higher rate first, then shorter term, then earlier listing; the id only makes it total.
  return std::tuple(other.rate_ppm, term_days, sequence, id) <
         std::tuple(rate_ppm, other.term_days, other.sequence, other.id);
}

bool Market::Deadline::operator<(const Deadline& other) const noexcept {
  if (at != other.at) return at < other.at;
  if (event != other.event) return event < other.event;
  return product < other.product;
}

Market::Rank Market::rank_of(const ProductRecord& product) noexcept {
  return {product.rate_ppm, product.term_days, product.sequence, product.id};
}

Outcome Market::apply(const Command& command, payments::Chain& chain,
                      const payments::InstitutionRecord* institution) noexcept {
  CAP_ASSERT(chain.size() == 0 && matches_.empty());
  if (command.target == 0) return outcome(Result::id_must_not_be_zero);
  // Account ids keep 56 bits of a record's id (payments/accounts.h).
  if (command.target > payments::party_id_max) return outcome(Result::party_id_invalid);
  switch (command.kind) {
    case CommandKind::list_product: return list_product(command, chain, institution);
    case CommandKind::place_standing_order: return place_order(command, chain);
    case CommandKind::cancel_standing_order: return cancel_order(command, chain);
    case CommandKind::cancel_product: return cancel_product(command, chain);
    default: break;
  }
  return outcome(Result::invalid_command);
}

// A product is listed by its issuer, whose admission decides first: a refused issuer learns why
// whatever its terms. A sale window already open starts matching at once, in this command's chain.
Outcome Market::list_product(const Command& command, payments::Chain& chain,
                             const payments::InstitutionRecord* institution) noexcept {
  if (institution == nullptr) return outcome(Result::forbidden);
  CAP_ASSERT(institution->id == command.party);
  if (const Result admitted = admit_issuer(*institution); admitted != Result::ok) {
    return outcome(admitted);
  }
  if (products_.find(command.target) != nullptr) return outcome(Result::product_exists);
  const std::uint64_t now = chain.now();
  if (!product_terms_valid(command, now)) return outcome(Result::product_terms_invalid);

  ProductRecord product{};
  product.id = command.target;
  product.issuer = institution->id;
  product.sequence = sequence_ + 1;
  product.listed_at_ns = now;
  product.valid_from_ns = command.terms.valid_from_ns;
  product.valid_to_ns = command.terms.valid_to_ns;
  product.matures_at_ns = product.valid_to_ns + command.a * payments::ns_per_day;
  product.size = command.amount;
  product.min_amount = command.terms.min_spend;
  product.rate_ppm = static_cast<std::uint32_t>(command.b);
  product.term_days = static_cast<std::uint32_t>(command.a);
  product.state = ProductState::listed;

  const Result opened =
      chain.ensure_account(AccountKind::wealth_product, product.id, never_overdrawn,
                           payments::ledger_cny, product.issuer);
  if (opened != Result::ok) return outcome(opened);
  if (product.valid_from_ns > now) {
    ++sequence_;
    put_product(product);
    index_product(product);
    return outcome(Result::ok, 0);
  }
  product.state = ProductState::on_sale;
  match_product(product, chain);
  const Result committed = chain.commit();
  if (committed != Result::ok) {
    matches_.clear();
    return outcome(committed);
  }
  ++sequence_;
  put_product(product);
  index_product(product);
  std::int64_t sold = 0;
  for (const Match& match : matches_) sold += match.amount;
  record_matches(now);
  return outcome(Result::ok, sold);
}

// The whole amount leaves the wallet at placement, so the matcher never waits on the user's
// balance: an order is money already set aside.
Outcome Market::place_order(const Command& command, payments::Chain& chain) noexcept {
  if (orders_.find(command.target) != nullptr) return outcome(Result::standing_order_exists);
  if (!standing_order_terms_valid(command)) return outcome(Result::standing_order_terms_invalid);
  const std::uint64_t now = chain.now();
  StandingOrderRecord order{};
  order.id = command.target;
  order.user = command.party;
  order.sequence = sequence_ + 1;
  order.placed_at_ns = now;
  order.amount = command.amount;
  order.unmatched = command.amount;
  order.max_term_days = static_cast<std::uint32_t>(command.a);
  order.min_rate_ppm = static_cast<std::uint32_t>(command.b);
  order.state = StandingOrderState::open;

  // Checked before the order's account is opened, so a rejected order leaves nothing behind; the
  // wallet leg would refuse it anyway.
  if (chain.available(payments::account_id(AccountKind::wallet, order.user)) < order.amount) {
    return outcome(Result::insufficient_wallet);
  }
  const Result opened = chain.ensure_account(AccountKind::wealth_order, order.id, never_overdrawn,
                                             payments::ledger_cny, order.user);
  if (opened != Result::ok) return outcome(opened);
  chain.leg(payments::account_id(AccountKind::wallet, order.user),
            payments::account_id(AccountKind::wealth_order, order.id), order.amount,
            TransferCode::wealth_hold, order.id);
  match_order(order, chain);
  const Result committed = chain.commit();
  if (committed != Result::ok) {
    matches_.clear();
    return outcome(committed);
  }
  ++sequence_;
  put_order(order);
  std::int64_t filled = 0;
  for (const Match& match : matches_) filled += match.amount;
  record_matches(now);
  return outcome(Result::ok, filled);
}

// Fills stay where they are: cancelling takes back only what the matcher has not placed yet.
Outcome Market::cancel_order(const Command& command, payments::Chain& chain) noexcept {
  const StandingOrderRecord* found = orders_.find(command.target);
  if (found == nullptr) return outcome(Result::standing_order_not_found);
  if (found->user != command.party) return outcome(Result::forbidden);
  if (found->state != StandingOrderState::open) return outcome(Result::standing_order_closed);
  StandingOrderRecord order = *found;
  CAP_ASSERT(order.unmatched > 0);
  chain.leg(payments::account_id(AccountKind::wealth_order, order.id),
            payments::account_id(AccountKind::wallet, order.user), order.unmatched,
            TransferCode::wealth_release, order.id);
  const Result committed = chain.commit();
  if (committed != Result::ok) return outcome(committed);
  const std::int64_t released = order.unmatched;
  order.released += released;
  order.unmatched = 0;
  order.state = StandingOrderState::cancelled;
  put_order(order);
  return outcome(Result::ok, released);
}

// The issuer (for its own products) or the platform may cancel until the sale closes; every fill
// goes back to its user's wallet.
Outcome Market::cancel_product(const Command& command, payments::Chain& chain) noexcept {
  const ProductRecord* found = products_.find(command.target);
  if (found == nullptr) return outcome(Result::product_not_found);
  const bool by_platform =
      payments::principal_kind(command.principal) == payments::PartyKind::platform;
  if (!by_platform && found->issuer != command.party) return outcome(Result::forbidden);
  if (found->state != ProductState::listed && found->state != ProductState::on_sale) {
    return outcome(Result::product_closed);
  }
  const ProductRecord product = *found;
  const std::int64_t refunded = refund_legs(product, chain);
  const Result committed = chain.commit();
  if (committed != Result::ok) return outcome(committed);
  set_product_state(product, ProductState::cancelled);
  return outcome(Result::ok, refunded);
}

void Market::put_product(const ProductRecord& product) { products_.put(product.id, product); }

void Market::put_order(const StandingOrderRecord& order) {
  CAP_ASSERT(order.amount == order.filled + order.unmatched + order.released);
  CAP_ASSERT(order.unmatched >= 0 && order.filled >= 0 && order.released >= 0);
  CAP_ASSERT((order.state == StandingOrderState::open) == (order.unmatched > 0));
  orders_.put(order.id, order);
  if (order.state == StandingOrderState::open) {
    open_orders_.insert_or_assign(order.sequence, order.id);
  } else {
    open_orders_.erase(order.sequence);
  }
}

// Indexes a product in the state it has: its issuer, its place on sale, its next deadline.
void Market::index_product(const ProductRecord& product) {
  const Rank rank = rank_of(product);
  issuer_products_.insert({product.issuer, product.id});
  switch (product.state) {
    case ProductState::listed:
      deadlines_.insert({product.valid_from_ns, Event::open, rank});
      break;
    case ProductState::on_sale:
      on_sale_.insert(rank);
      deadlines_.insert({product.valid_to_ns, Event::close, rank});
      break;
    case ProductState::established:
      deadlines_.insert({product.matures_at_ns, Event::mature, rank});
      break;
    case ProductState::matured:
    case ProductState::unfilled:
    case ProductState::cancelled:
      break;
  }
}

// Moves a product to its next state, dropping what indexed its previous one.
void Market::set_product_state(ProductRecord product, ProductState state) {
  const Rank rank = rank_of(product);
  on_sale_.erase(rank);
  deadlines_.erase({product.valid_from_ns, Event::open, rank});
  deadlines_.erase({product.valid_to_ns, Event::close, rank});
  deadlines_.erase({product.matures_at_ns, Event::mature, rank});
  product.state = state;
  put_product(product);
  index_product(product);
}

std::int64_t Market::expected_interest(const ProductRecord& product,
                                       std::int64_t principal) const noexcept {
  return interest_half_up(principal, product.rate_ppm, product.term_days);
}

std::vector<HoldingView> Market::holdings(std::uint64_t user) const {
  std::vector<HoldingView> views;
  for (auto it = user_products_.lower_bound({user, 0});
       it != user_products_.end() && it->first == user; ++it) {
    const ProductRecord* product = products_.find(it->second);
    const HoldingRecord* holding = holdings_.find({it->second, user});
    CAP_ASSERT(product != nullptr && holding != nullptr);
    HoldingView view{};
    view.product = product->id;
    view.principal = holding->principal;
    view.matures_at_ns = product->matures_at_ns;
    view.state = product->state;
    const bool refunded =
        product->state == ProductState::unfilled || product->state == ProductState::cancelled;
    view.expected_interest = product->state == ProductState::matured ? holding->interest_paid
                             : refunded ? 0
                                        : expected_interest(*product, holding->principal);
    views.push_back(view);
  }
  return views;
}

std::vector<ProductRecord> Market::products_of_issuer(std::uint64_t issuer) const {
  std::vector<ProductRecord> products;
  for (auto it = issuer_products_.lower_bound({issuer, 0});
       it != issuer_products_.end() && it->first == issuer; ++it) {
    products.push_back(*products_.find(it->second));
  }
  return products;
}

namespace {

std::vector<FillRecord> fills_in(const absl::btree_set<std::pair<std::uint64_t, std::uint64_t>>& index,
                                 std::uint64_t key,
                                 const payments::Table<std::uint64_t, FillRecord>& fills) {
  std::vector<FillRecord> found;
  for (auto it = index.lower_bound({key, 0}); it != index.end() && it->first == key; ++it) {
    found.push_back(*fills.find(it->second));
  }
  return found;
}

}  // namespace

std::vector<FillRecord> Market::fills_of_order(std::uint64_t order) const {
  return fills_in(order_fills_, order, fills_);
}

std::vector<FillRecord> Market::fills_of_product(std::uint64_t product) const {
  return fills_in(product_fills_, product, fills_);
}

std::uint64_t Market::state_hash() const noexcept {
  // The counters decide the next listing's rank and the next fill's id, so they are state.
  const std::uint64_t counters[2] = {sequence_, fill_sequence_};
  return products_.hash() + orders_.hash() + fills_.hash() + holdings_.hash() +
         (sequence_ == 0 && fill_sequence_ == 0 ? 0 : checksum(counters, sizeof(counters)));
}

std::string Market::check_invariants(const ledger::Ledger& ledger) const {
  const auto balance = [&](AccountKind kind, std::uint64_t id) -> std::int64_t {
    const ledger::Account* account = ledger.find_account(payments::account_id(kind, id));
    return account == nullptr ? 0
                              : account->credits_posted - account->debits_posted - account->debits_pending;
  };
  std::string broken;
  orders_.for_each([&](const StandingOrderRecord& order) {
    if (!broken.empty()) return;
    const std::int64_t held = balance(AccountKind::wealth_order, order.id);
    if (held != order.unmatched) {
      broken = fmt::format("standing order {} has {} unmatched but its account holds {}", order.id,
                           order.unmatched, held);
    } else if (order.amount != order.filled + order.unmatched + order.released) {
      broken = fmt::format("standing order {} does not add up", order.id);
    }
  });
  if (!broken.empty()) return broken;
  // Sums only: the order they are taken in does not matter.
  absl::flat_hash_map<std::uint64_t, std::int64_t> fill_sums;
  fills_.for_each([&](const FillRecord& fill) { fill_sums[fill.product] += fill.amount; });
  products_.for_each([&](const ProductRecord& product) {
    if (!broken.empty()) return;
    const bool selling = product.state == ProductState::listed || product.state == ProductState::on_sale;
    const std::int64_t held = balance(AccountKind::wealth_product, product.id);
    const auto sum = fill_sums.find(product.id);
    const std::int64_t filled = sum == fill_sums.end() ? 0 : sum->second;
    if (filled != product.sold || product.sold > product.size) {
      broken = fmt::format("product {} sold {} of {} but its fills add up to {}", product.id,
                           product.sold, product.size, filled);
    } else if (held != (selling ? product.sold : 0)) {
      broken = fmt::format("product {} ({}) holds {} in its account, sold {}", product.id,
                           static_cast<int>(product.state), held, product.sold);
    } else if (product.state == ProductState::established && product.sold != product.size) {
      broken = fmt::format("product {} was established below its size", product.id);
    }
  });
  if (!broken.empty()) return broken;
  absl::flat_hash_map<std::uint64_t, std::int64_t> repaid;
  holdings_.for_each([&](const HoldingRecord& holding) {
    repaid[holding.product] += holding.principal + holding.interest_paid;
  });
  products_.for_each([&](const ProductRecord& product) {
    if (!broken.empty() || product.state != ProductState::matured) return;
    if (repaid[product.id] != product.repaid) {
      broken = fmt::format("product {} repaid {} but its holdings were paid {}", product.id,
                           product.repaid, repaid[product.id]);
    }
  });
  if (!broken.empty()) return broken;
  __int128 debits = 0, credits = 0;
  for (const ledger::Account& account : ledger.accounts()) {
    if (account.ledger != payments::ledger_cny) continue;
    debits += account.debits_posted;
    credits += account.credits_posted;
  }
  if (debits != credits) return "the CNY ledger's posted debits differ from its posted credits";
  return {};
}

void Market::save(std::string* out) const {
  const std::uint64_t header[3] = {save_format_version, sequence_, fill_sequence_};
  out->append(reinterpret_cast<const char*>(header), sizeof(header));
  products_.save(out);
  orders_.save(out);
  fills_.save(out);
  holdings_.save(out);
}

bool Market::load(std::string_view* in) {
  std::uint64_t header[3];
  if (in->size() < sizeof(header)) return false;
  std::memcpy(header, in->data(), sizeof(header));
  if (header[0] != save_format_version) return false;
  in->remove_prefix(sizeof(header));
  sequence_ = header[1];
  fill_sequence_ = header[2];
  const auto by_id = [](const auto& record) { return record.id; };
  const bool loaded =
      products_.load(in, by_id) && orders_.load(in, by_id) && fills_.load(in, by_id) &&
      holdings_.load(in, [](const HoldingRecord& h) { return Pair{h.product, h.user}; });
  if (!loaded) return false;
  on_sale_.clear();
  open_orders_.clear();
  deadlines_.clear();
  product_fills_.clear();
  order_fills_.clear();
  product_holders_.clear();
  user_products_.clear();
  issuer_products_.clear();
  products_.for_each([&](const ProductRecord& product) { index_product(product); });
  orders_.for_each([&](const StandingOrderRecord& order) {
    if (order.state == StandingOrderState::open) open_orders_.emplace(order.sequence, order.id);
  });
  fills_.for_each([&](const FillRecord& fill) {
    product_fills_.insert({fill.product, fill.id});
    order_fills_.insert({fill.order, fill.id});
  });
  holdings_.for_each([&](const HoldingRecord& holding) {
    product_holders_.insert({holding.product, holding.user});
    user_products_.insert({holding.user, holding.product});
  });
  return true;
}

}  // namespace capillary::wealth
