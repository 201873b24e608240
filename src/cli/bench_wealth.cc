// `capillary bench wealth`: the marketplace's steps at their largest, on the state machine alone
// (a real ledger and Chain, no journal: durability is the engine's and is measured by
// `bench ledger`). Two phases:
//   1. N standing orders placed while no product is on sale (each holds its money), then one
//      product's sale opens and fills all N, its sale closes, and it matures: one chain of 2N legs;
//   2. N more orders placed against products already on sale, each filled at once.
// Every phase is timed alone; the invariants are checked (untimed) at the end.

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <string_view>

#include "cli/bench_util.h"
#include "cli/commands.h"
#include "ledger/ledger.h"
#include "payments/chain.h"
#include "payments/limits.h"
#include "wealth/limits.h"
#include "wealth/market.h"

namespace capillary::cli {
namespace {

using Clock = std::chrono::steady_clock;
using payments::AccountKind;
using payments::Command;
using payments::CommandKind;
using payments::Result;

struct WealthBenchOptions {
  std::uint64_t holders = wealth::product_fills_max;
  std::uint64_t products = 100;  // on sale in phase 2
};

constexpr std::uint64_t issuer_id = 1;
constexpr std::uint64_t source_id = 1;  // where the users' money comes from
constexpr std::uint64_t start_ns = 1'767'225'600ull * payments::ns_per_s;  // 2026-01-01 UTC
constexpr std::uint64_t hour_ns = 3600 * payments::ns_per_s;
constexpr std::int64_t order_fen = 1'000'00;  // 1,000 CNY an order
constexpr std::uint32_t term_days = 90;
constexpr std::uint32_t rate_ppm = 43'500;

int fail(std::string_view what) { return bench_failed("wealth", what); }

class Run {
 public:
  explicit Run(std::uint64_t users) : ledger_(static_cast<std::uint32_t>(3 * users + 1000),
                                              static_cast<std::uint32_t>(8 * users + 1000)) {
    chain_.set_now(start_ns);
    issuer_.id = issuer_id;
    issuer_.kind = payments::InstitutionKind::bank;
    issuer_.assets = wealth::bank_assets_fen_min_exclusive + 1;
  }

  // Opens the issuer's account and N users' wallets, each with two orders' worth.
  bool set_up(std::uint64_t users) {
    if (chain_.ensure_account(AccountKind::bank_clearing, source_id, 0) != Result::ok) return false;
    if (chain_.ensure_account(AccountKind::institution, issuer_id, 0) != Result::ok) return false;
    for (std::uint64_t user = 1; user <= users; ++user) {
      if (chain_.ensure_account(AccountKind::wallet, user,
                                ledger::account_debits_must_not_exceed_credits) != Result::ok) {
        return false;
      }
      chain_.leg(payments::account_id(AccountKind::bank_clearing, source_id),
                 payments::account_id(AccountKind::wallet, user), 2 * order_fen,
                 payments::TransferCode::top_up, 0);
      if (chain_.commit() != Result::ok) return false;
    }
    return true;
  }

  bool place(std::uint64_t order, std::uint64_t user) {
    Command command = base(CommandKind::place_standing_order, payments::PartyKind::user, user, order);
    command.amount = order_fen;
    command.a = term_days;
    return market_.apply(command, chain_, nullptr).result == Result::ok;
  }
  bool list(std::uint64_t product, std::int64_t size, std::uint64_t from_ns) {
    Command command = base(CommandKind::list_product, payments::PartyKind::partner, issuer_id, product);
    command.amount = size;
    command.a = term_days;
    command.b = rate_ppm;
    command.terms.min_spend = order_fen;
    command.terms.valid_from_ns = from_ns;
    command.terms.valid_to_ns = from_ns + 12 * hour_ns;
    return market_.apply(command, chain_, &issuer_).result == Result::ok;
  }
  // Runs what is due at `at`; returns its milliseconds.
  double advance_to(std::uint64_t at) {
    chain_.set_now(std::max(at, chain_.now()));
    const auto started = Clock::now();
    market_.advance(chain_);
    return ms_since(started);
  }

  const wealth::Market& market() const { return market_; }
  const ledger::Ledger& ledger() const { return ledger_; }
  std::uint64_t now() const { return chain_.now(); }

 private:
  Command base(CommandKind kind, payments::PartyKind party_kind, std::uint64_t party, std::uint64_t target) {
    Command command{};
    command.id = ++command_id_;
    command.kind = kind;
    command.principal = payments::principal(party_kind, party);
    command.party = party;
    command.target = target;
    return command;
  }

  ledger::Ledger ledger_;
  payments::Chain chain_{ledger_};
  wealth::Market market_;
  payments::InstitutionRecord issuer_{};
  std::uint64_t command_id_ = 0;
};

int run_wealth_bench(const WealthBenchOptions& options) {
  const std::uint64_t n = options.holders;
  if (n == 0 || n > wealth::product_fills_max || options.products == 0 || options.products > n) {
    fmt::print(stderr, "bench wealth: --holders 1..{}, --products 1..holders\n", wealth::product_fills_max);
    return 2;
  }
  auto run = std::make_unique<Run>(n);
  if (!run->set_up(n)) return fail("set-up failed");

  // Phase 1: orders waiting, then one sale opens for all of them, closes and matures.
  auto started = Clock::now();
  for (std::uint64_t user = 1; user <= n; ++user) {
    if (!run->place(user, user)) return fail("placing failed");
  }
  const double place_waiting_us = ms_since(started) * 1000 / static_cast<double>(n);
  const std::uint64_t opens = run->now() + hour_ns;
  if (!run->list(1, static_cast<std::int64_t>(n) * order_fen, opens)) {
    return fail("listing failed");
  }
  const double opening_ms = run->advance_to(opens);
  const double close_ms = run->advance_to(opens + 12 * hour_ns);
  if (run->market().find_product(1)->state != wealth::ProductState::established) {
    return fail("the product was not established");
  }
  const double maturity_ms = run->advance_to(run->market().find_product(1)->matures_at_ns);

  // Phase 2: products on sale, each order filled as it is placed.
  const std::uint64_t per_product = n / options.products;
  for (std::uint64_t p = 0; p < options.products; ++p) {
    const std::uint64_t take = p + 1 < options.products ? per_product : n - per_product * p;
    if (!run->list(2 + p, static_cast<std::int64_t>(take) * order_fen, run->now())) {
      return fail("listing failed");
    }
  }
  started = Clock::now();
  for (std::uint64_t user = 1; user <= n; ++user) {
    if (!run->place(n + user, user)) return fail("placing failed");
  }
  const double place_filled_us = ms_since(started) * 1000 / static_cast<double>(n);

  std::string broken = run->ledger().check_invariants();
  if (broken.empty()) broken = run->market().check_invariants(run->ledger());
  const wealth::ProductRecord* product = run->market().find_product(1);
  const wealth::StandingOrderRecord* last = run->market().find_order(2 * n);
  if (!broken.empty() || product->state != wealth::ProductState::matured || last == nullptr ||
      last->state != wealth::StandingOrderState::filled) {
    return fail(fmt::format("the run does not add up: {}", broken));
  }
  fmt::print(stderr, "maturity repaid {} fen ({} principal) to {} holders in one chain of {} legs\n",
             product->repaid, product->sold, n, 2 * n);
  fmt::print("holders={} place_us={:.2f} opening_ms={:.1f} close_ms={:.2f} maturity_ms={:.1f} "
             "place_filled_us={:.2f} products={}\n",
             n, place_waiting_us, opening_ms, close_ms, maturity_ms, place_filled_us, options.products);
  return 0;
}

}  // namespace

void add_wealth_bench(const Commands& commands) {
  auto options = std::make_shared<WealthBenchOptions>();
  auto* bench = commands.bench.add_subcommand(
      "wealth", "Standing orders placed, one sale opening, closing and maturing for N holders");
  bench->add_option("--holders", options->holders, "Standing orders, and holders of the product")
      ->capture_default_str();
  bench->add_option("--products", options->products, "Products on sale in the placement phase")
      ->capture_default_str();
  bench->callback([=, &exit_code = commands.exit_code] { exit_code = run_wealth_bench(*options); });
}

}  // namespace capillary::cli
