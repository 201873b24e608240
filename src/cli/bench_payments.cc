// `capillary bench payments-state`: the payments module's state growing to N orders, on the
// state machine alone (no journal, no HTTP): what the engine thread pauses for as the tables grow
// and at each checkpoint.
//
// Merchants create orders (each with a merchant order number) in batches of batch_events_max
// commands, applied as the engine applies a batch: every create_order puts three records (the
// order, its order number, its idempotency record). Each batch is timed; the largest is the
// longest the engine stops answering because of the tables (growth included). Every
// --checkpoint-orders orders (by default what the engine's 256 MiB journal interval holds of them)
// the engine thread's share of a checkpoint is timed: Payments::save into checkpoint parts and
// Store::prepare_checkpoint, which is what Engine::prepare_checkpoint runs before handing off.
// Each checkpoint's pause and bytes go to stderr; the last line has the largest batch and pause
// and the last checkpoint's bytes (the whole module state, or what changed since the one before).

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string_view>
#include <vector>

#include "cli/bench_util.h"
#include "cli/commands.h"
#include "core/limits.h"
#include "ledger/ledger.h"
#include "payments/limits.h"
#include "payments/payments.h"
#include "store/store.h"

namespace capillary::cli {
namespace {

using Clock = std::chrono::steady_clock;
using payments::Command;
using payments::CommandKind;
using payments::Result;

// The engine's default checkpoint interval (engine::Options::checkpoint_journal_bytes), in
// create_order commands: one journal record each.
constexpr std::uint64_t checkpoint_journal_bytes = 256ull << 20;

struct PaymentsStateOptions {
  std::uint64_t orders = 10'000'000;
  std::uint64_t merchants = 1'000;
  std::uint64_t checkpoint_orders = checkpoint_journal_bytes / sizeof(Command);
};

constexpr std::uint64_t start_ns = 1'767'225'600ull * payments::ns_per_s;  // 2026-01-01 UTC
constexpr std::uint64_t puts_per_order = 3;

int fail(std::string_view what) { return bench_failed("payments-state", what); }

class Run {
 public:
  Run() : payments_(ledger_) {}

  // Applies `commands` as one batch; false when any is not ok.
  bool apply(const std::vector<Command>& commands) {
    outcomes_.resize(commands.size());
    now_ += payments_.apply(commands, now_, outcomes_) + 1;
    payments_.take_events(&events_);
    events_.clear();
    return std::all_of(outcomes_.begin(), outcomes_.end(),
                       [](const payments::Outcome& o) { return o.result == Result::ok; });
  }

  // The engine thread's part of a checkpoint; returns the module's bytes it will write.
  std::uint64_t checkpoint(std::uint64_t sequence) {
    const store::CheckpointMeta meta{sequence, now_, payments_.state_hash(), 0, 0};
    pending_ = std::make_unique<store::PendingCheckpoint>();
    store::Store::prepare_checkpoint(pending_.get(), meta, {}, {}, {}, nullptr,
                                     [this](fund::Parts* parts, CopyLater* later) {
                                       return payments_.save(parts, later);
                                     });
    std::uint64_t bytes = pending_->payments.size();
    for (const auto& [key, part] : pending_->changed_parts) bytes += part.size();
    return bytes;
  }
  // Drops the last checkpoint (its write is the checkpoint thread's, not measured here).
  void drop_checkpoint() { pending_.reset(); }

  const payments::Payments& payments() const { return payments_; }

 private:
  ledger::Ledger ledger_;
  payments::Payments payments_;
  std::uint64_t now_ = start_ns;
  std::vector<payments::Outcome> outcomes_;
  std::vector<payments::OrderEvent> events_;
  std::unique_ptr<store::PendingCheckpoint> pending_;
};

Command command(std::uint64_t id, CommandKind kind, std::uint64_t principal, std::uint64_t party) {
  Command c{};
  c.id = id;
  c.request_hash = id;
  c.kind = kind;
  c.principal = principal;
  c.party = party;
  return c;
}

int run_payments_state_bench(const PaymentsStateOptions& options) {
  if (options.orders == 0 || options.merchants == 0 || options.checkpoint_orders == 0) {
    return fail("--orders, --merchants and --checkpoint-orders must be positive");
  }
  Run run;
  std::uint64_t next_id = 1;
  std::vector<Command> batch;
  for (std::uint64_t merchant = 1; merchant <= options.merchants; ++merchant) {
    batch.push_back(command(next_id++, CommandKind::open_merchant,
                            payments::principal(payments::PartyKind::platform, 0), merchant));
  }
  if (!run.apply(batch)) return fail("opening merchants failed");

  std::vector<double> batch_ms;
  double checkpoint_ms_max = 0;
  std::uint64_t checkpoint_bytes = 0, checkpoints = 0, sequence = 1,
                next_checkpoint = options.checkpoint_orders;
  double applying_ms = 0;
  for (std::uint64_t created = 0; created < options.orders;) {
    batch.clear();
    const std::uint64_t count = std::min<std::uint64_t>(batch_events_max, options.orders - created);
    for (std::uint64_t i = 0; i < count; ++i, ++created) {
      const std::uint64_t merchant = 1 + created % options.merchants;
      Command c = command(next_id++, CommandKind::create_order,
                          payments::principal(payments::PartyKind::merchant, merchant), merchant);
      c.amount = 100 + static_cast<std::int64_t>(created % 10'000);
      c.reference = created + 1;
      batch.push_back(c);
    }
    const auto started = Clock::now();
    if (!run.apply(batch))
      return fail(fmt::format("a create_order failed after {} orders", created));
    batch_ms.push_back(ms_since(started));
    applying_ms += batch_ms.back();
    ++sequence;
    if (created >= next_checkpoint || created == options.orders) {
      next_checkpoint += options.checkpoint_orders;
      const auto checkpoint_started = Clock::now();
      checkpoint_bytes = run.checkpoint(sequence);
      const double ms = ms_since(checkpoint_started);
      run.drop_checkpoint();
      checkpoint_ms_max = std::max(checkpoint_ms_max, ms);
      ++checkpoints;
      fmt::print(stderr, "orders={} checkpoint_pause_ms={:.1f} checkpoint_bytes={}\n", created, ms,
                 checkpoint_bytes);
    }
  }
  if (run.payments().orders() != options.orders) return fail("orders missing");
  if (const std::string broken = run.payments().check_invariants(); !broken.empty())
    return fail(broken);

  std::vector<double> sorted = batch_ms;
  std::sort(sorted.begin(), sorted.end());
  const double batch_ms_median = sorted[sorted.size() / 2];
  const double batch_ms_max = sorted.back();
  fmt::print(stderr, "batches={} batch_ms_median={:.2f} batch_ms_max={:.1f} checkpoints={}\n",
             batch_ms.size(), batch_ms_median, batch_ms_max, checkpoints);
  fmt::print(
      "orders={} put_per_s={:.0f} growth_pause_ms_max={:.1f} checkpoint_pause_ms_max={:.1f} "
      "checkpoint_bytes={}\n",
      options.orders, static_cast<double>(puts_per_order * options.orders) / (applying_ms / 1000),
      batch_ms_max, checkpoint_ms_max, checkpoint_bytes);
  return 0;
}

}  // namespace

void add_payments_state_bench(const Commands& commands) {
  auto options = std::make_shared<PaymentsStateOptions>();
  auto* bench = commands.bench.add_subcommand(
      "payments-state",
      "Orders created into the payments state: pauses at table growth and checkpoints");
  bench->add_option("--orders", options->orders, "Orders created")->capture_default_str();
  bench->add_option("--merchants", options->merchants, "Merchants creating them")
      ->capture_default_str();
  bench
      ->add_option("--checkpoint-orders", options->checkpoint_orders,
                   "Orders between checkpoints (default: a 256 MiB journal interval of them)")
      ->capture_default_str();
  bench->callback(
      [=, &exit_code = commands.exit_code] { exit_code = run_payments_state_bench(*options); });
}

}  // namespace capillary::cli
