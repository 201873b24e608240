#pragma once
// The engine: one cell's sequencer, journal and state machine.
//
// Clients submit requests from any thread. One engine thread gathers them into batches of up to
// batch_events_max events, stamps each batch, hands it to the journal thread and applies it to the
// state while the journal thread makes it durable — and applies the next batch while that one is
// still syncing. A request's results, and a read's reply, are handed back only once every batch
// they saw is durable. Committed batches then feed the history store on a third thread.
//
// Recovery on open: the latest checkpoint, then every journal entry after it, each checked against
// the state hash the entry recorded before it was first applied.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "engine/state.h"
#include "ledger/ledger.h"
#include "payments/command.h"
#include "payments/records.h"
#include "payments/result.h"
#include "store/store.h"

namespace capillary::engine {

struct Options {
  std::filesystem::path data_dir;   // holds journal/ and history/
  const Clock* clock = nullptr;     // the system clock when null
  bool sync = true;                 // fdatasync each batch; off only for benchmarks
  bool history = true;              // feed the history store (statements, balance as of)
  // Write a checkpoint once this many journal bytes were appended since the last one, so
  // recovery replays a bounded tail and old segments can be deleted. A checkpoint copies the
  // records changed since the previous one (about 1.25 bytes per journal byte of transfers, plus
  // the touched accounts), so the interval trades recovery time against that work.
  std::uint64_t checkpoint_journal_bytes = 256ull << 20;
  // The engine copies a checkpoint's chunks this many bytes at a time between batches (a few
  // milliseconds' worth), not all at once (core/chunk_copies.h).
  std::size_t checkpoint_copy_step_bytes = 8u << 20;
  std::uint32_t accounts_reserve = 0;
  std::uint32_t transfers_reserve = 0;
  // Called on the journal thread with each durable batch's order state changes (merchant
  // notifications), in order; it must be quick (hand off, do not block).
  std::function<void(std::span<const payments::OrderEvent>)> on_order_events;
};

struct Stats {
  std::uint64_t last_sequence = 0;
  std::uint64_t last_timestamp = 0;
  std::uint64_t state_hash = 0;
  std::uint64_t batches = 0;          // since open
  std::uint64_t events = 0;           // since open
  std::uint64_t journal_bytes = 0;    // since open
  std::uint64_t accounts = 0;
  std::uint64_t transfers = 0;
  std::uint64_t history_sequence = 0;
  std::uint64_t checkpoint_sequence = 0;
  std::uint64_t replayed_batches = 0;   // at open
  std::uint64_t queue_depth = 0;
  std::uint64_t rejected_overloaded = 0;
  double batch_ms_last = 0;
  // The engine's longest pause for a checkpoint (taking it, or one step of copying its chunks):
  // the last checkpoint's, and the longest since open.
  double checkpoint_pause_ms_last = 0;
  double checkpoint_pause_ms_max = 0;
  // Time the engine thread spent waiting for journal entries to be durable, with as many batches
  // in flight as it may have, or draining them for a checkpoint: in all since open, and the
  // longest one wait.
  double journal_wait_ms_total = 0;
  double journal_wait_ms_max = 0;
};

enum class Submit {
  accepted,
  overloaded,       // the sequencer queue is full: retry later
  too_many_events,  // more than batch_events_max events in one request
  empty,            // no events
  stopped,          // the engine is shutting down
};

class Engine {
 public:
  using AccountResults = std::function<void(std::span<const ledger::CreateAccountResult>)>;
  using TransferResults = std::function<void(std::span<const ledger::CreateTransferResult>)>;
  using PaymentOutcomes = std::function<void(std::span<const payments::Outcome>)>;
  // A read runs on the engine thread between batches and sees every batch applied before it, the
  // last of them perhaps still being made durable. The reply it returns (which may be empty) runs
  // on the journal thread once they all are (or at once, on the engine thread, when they
  // already are), so nothing a read tells can be undone by a crash:
  // compute in the read, answer or act in its reply.
  using Reply = std::function<void()>;
  using Read = std::function<Reply(const State&)>;
  using Inspect = std::function<void(const State&)>;

  // Recovers the data directory (creating it when new) and starts the engine's threads.
  static Status open(const Options& options, std::unique_ptr<Engine>* engine);
  // Finishes every accepted request, writes a checkpoint and stops.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Thread-safe. `done` runs on the journal thread once the events are durable, with one result
  // per event in order; it must be quick (hand off, do not block). The events of one request stay
  // in one batch, so a linked chain never spans two journal entries.
  Submit submit_accounts(std::vector<ledger::AccountSpec> events, AccountResults done);
  Submit submit_transfers(std::vector<ledger::Transfer> events, TransferResults done);
  Submit submit_payments(std::vector<payments::Command> commands, PaymentOutcomes done);
  Submit submit_read(Read read);

  // Blocking forms of the above, for tools and tests. They wait while the queue is full.
  std::vector<ledger::CreateAccountResult> create_accounts(std::vector<ledger::AccountSpec> events);
  std::vector<ledger::CreateTransferResult> create_transfers(std::vector<ledger::Transfer> events);
  std::vector<payments::Outcome> execute(std::vector<payments::Command> commands);
  // Runs `inspect` on the engine thread; returns once everything it saw is durable.
  void read(const Inspect& inspect);

  // Waits until the history store holds every batch committed before the call.
  void wait_for_history();
  const store::Store& store() const;
  Stats stats() const;

 private:
  class Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// What `capillary verify` and `capillary replay` report.
struct VerifyReport {
  std::uint64_t checkpoint_sequence = 0;  // 0 when replayed from the start of the journal
  std::uint64_t last_sequence = 0;
  std::uint64_t batches_replayed = 0;
  std::uint64_t events_replayed = 0;
  std::uint64_t accounts = 0;
  std::uint64_t transfers = 0;
  std::uint64_t state_hash = 0;
  std::uint64_t torn_bytes = 0;           // a torn tail found (left in place)
  double replay_seconds = 0;
  std::string invariant_error;            // empty when every invariant holds
};

// Rebuilds the state read-only — from the latest checkpoint, or from the journal alone when
// `from_checkpoint` is false — checking every entry's recorded state hash and then every ledger
// invariant. A corrupt journal or a hash that does not match is an error Status.
Status verify(const std::filesystem::path& data_dir, bool from_checkpoint, VerifyReport* report);

}  // namespace capillary::engine
