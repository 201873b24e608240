#include "engine/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <limits>
#include <mutex>
#include <thread>
#include <variant>

#include "core/assert.h"
#include "core/chunk_copies.h"
#include "core/limits.h"
#include "core/this_thread.h"
#include "engine/heap_warmer.h"
#include "engine/replay.h"
#include "journal/journal.h"

namespace capillary::engine {
namespace {

namespace fs = std::filesystem;

// Committed batches waiting for the history store. Small: if RocksDB falls behind, the engine
// waits here rather than buffering history without bound.
constexpr std::size_t history_queue_batches_max = 8;

struct AccountsRequest {
  std::vector<ledger::AccountSpec> events;
  Engine::AccountResults done;
};
struct TransfersRequest {
  std::vector<ledger::Transfer> events;
  Engine::TransferResults done;
};
struct PaymentsRequest {
  std::vector<payments::Command> events;
  Engine::PaymentOutcomes done;
};
using Request = std::variant<AccountsRequest, TransfersRequest, PaymentsRequest, Engine::Read>;

// A committed batch's history, for the history thread.
struct HistoryWork {
  std::uint64_t sequence;
  std::vector<ledger::HistoryEntry> entries;
};

journal::EntryKind kind_of(const Request& request) {
  if (std::holds_alternative<AccountsRequest>(request)) return journal::EntryKind::create_accounts;
  if (std::holds_alternative<PaymentsRequest>(request)) return journal::EntryKind::payments;
  CAP_ASSERT(std::holds_alternative<TransfersRequest>(request));
  return journal::EntryKind::create_transfers;
}

std::size_t events_of(const Request& request) {
  if (const auto* accounts = std::get_if<AccountsRequest>(&request)) return accounts->events.size();
  if (const auto* transfers = std::get_if<TransfersRequest>(&request)) return transfers->events.size();
  if (const auto* commands = std::get_if<PaymentsRequest>(&request)) return commands->events.size();
  return 0;
}

[[noreturn]] void fatal(const Status& status) {
  std::fprintf(stderr, "capillary: stopping: %s\n", status.message().c_str());
  std::fflush(stderr);
  std::abort();
}

// Makes journal entries durable on its own thread, one at a time and in order (the journal's
// format allows one entry in flight), while the engine applies the next batch; then calls
// `on_durable` with the entry's sequence, on this thread.
class JournalThread {
 public:
  JournalThread(journal::Writer* writer, std::function<void(std::uint64_t)> on_durable)
      : writer_(writer), on_durable_(std::move(on_durable)), thread_([this] { run(); }) {}
  ~JournalThread() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  // `body` must stay where it is until the entry is durable.
  void append(const journal::EntryHeader& header, std::span<const std::byte> body) {
    {
      std::lock_guard lock(mutex_);
      CAP_ASSERT(queue_.size() < journal_entries_in_flight_max);
      queue_.push_back({header, body});
    }
    wake_.notify_all();
  }

 private:
  struct Entry {
    journal::EntryHeader header;
    std::span<const std::byte> body;
  };

  void run() {
    name_this_thread("journal");
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;
      const Entry entry = queue_.front();
      lock.unlock();
      CAP_ASSERT(entry.header.sequence == writer_->next_sequence());
      if (Status status = writer_->append(entry.header, entry.body); !status.is_ok()) fatal(status);
      lock.lock();
      // Off the queue before it is answered: the engine may then hand over the next one.
      queue_.pop_front();
      lock.unlock();
      on_durable_(entry.header.sequence);
      lock.lock();
    }
  }

  journal::Writer* writer_;
  std::function<void(std::uint64_t)> on_durable_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Entry> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

// A batch applied to the state and handed to the journal. Nothing of it leaves the engine before
// its entry is durable: then the journal thread answers its requests, hands on its history and
// order changes, and sends the replies of the reads that saw it (Engine::Impl::complete).
struct Applied {
  std::uint64_t sequence = 0;
  std::uint64_t last_timestamp = 0;
  std::uint64_t state_hash = 0;  // after the batch
  std::uint64_t accounts = 0, transfers = 0;
  journal::EntryKind kind = journal::EntryKind::tick;
  std::size_t events = 0;
  std::vector<Request> requests;
  ReplayBuffers buffers;  // the entry's body, and the results
  std::vector<ledger::HistoryEntry> history;
  std::vector<payments::OrderEvent> order_events;
  std::vector<Engine::Reply> replies;
  std::chrono::steady_clock::time_point started;
};

}  // namespace

class Engine::Impl {
 public:
  Impl(const Options& options) : options_(options), state_(options.accounts_reserve, options.transfers_reserve) {
    clock_ = options.clock ? options.clock : &system_clock_;
  }

  Status open();
  void start();
  void stop();

  Submit submit(Request request);
  void wait_for_history();
  const store::Store& store() const { return *store_; }
  Stats stats() const;

 private:
  void run();
  void run_history();
  // Takes the next batch's requests (all of one kind, within batch_events_max) off `pending`.
  void commit(journal::EntryKind kind, std::size_t requests);
  void commit_tick();
  std::unique_ptr<Applied> new_batch(journal::EntryKind kind);
  // Hands the batch's entry to the journal thread and applies it meanwhile; it is answered once
  // the entry is durable (complete).
  void append_and_apply(std::unique_ptr<Applied> batch, std::span<const std::byte> body);
  // On the journal thread, once batch `sequence` (the oldest in flight) is durable: answers it.
  void complete(std::uint64_t sequence);
  void publish(Applied& batch);
  // Sends `reply` once every batch applied so far is durable and answered.
  void hold(Engine::Reply reply);
  // Waits while the journal has more than `batches` in flight, to make room or to drain.
  void wait_for_journal(std::size_t batches);
  void drain() { wait_for_journal(0); }
  bool journal_idle() {
    std::lock_guard lock(flight_mutex_);
    return in_flight_.empty();
  }
  void maybe_checkpoint();
  void copy_checkpoint(std::size_t budget);
  void note_checkpoint_pause(std::chrono::steady_clock::time_point started);
  std::unique_ptr<store::PendingCheckpoint> prepare_checkpoint(CopyLater* later);
  void write_checkpoint(std::unique_ptr<store::PendingCheckpoint> checkpoint);
  void wait_for_history_through(std::uint64_t sequence);
  void enqueue_history(HistoryWork work);
  void remove_covered_segments();
  Status recover();

  Options options_;
  SystemClock system_clock_;
  const Clock* clock_;
  State state_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<journal::Writer> writer_;
  std::unique_ptr<JournalThread> journal_thread_;

  // Requests from clients.
  mutable std::mutex queue_mutex_;
  std::condition_variable queue_wake_;
  std::deque<Request> queue_;
  std::size_t queue_events_ = 0;
  bool stopping_ = false;

  // Engine-thread state.
  std::deque<Request> pending_;
  std::vector<Engine::Read> deferred_reads_;
  std::uint64_t next_sequence_ = 1;  // of the next batch to apply
  // Batches applied, oldest first, until the journal thread has answered them; then kept in
  // spare_ for their buffers. The engine thread adds to them, the journal thread takes them off.
  std::mutex flight_mutex_;
  std::condition_variable flight_wake_;
  std::deque<std::unique_ptr<Applied>> in_flight_;
  std::vector<std::unique_ptr<Applied>> spare_;
  // Recovery's scratch space.
  ReplayBuffers buffers_;
  std::vector<ledger::HistoryEntry> history_batch_;
  std::vector<payments::OrderEvent> order_events_;
  std::uint64_t last_timestamp_ = 0;  // of the last batch applied
  std::uint64_t journal_bytes_at_checkpoint_ = 0;
  std::atomic<std::uint64_t> journal_bytes_ = 0;  // appended since open

  // History thread.
  std::mutex history_mutex_;
  std::condition_variable history_wake_, history_space_, history_written_;
  std::deque<HistoryWork> history_queue_;
  std::vector<std::vector<ledger::HistoryEntry>> history_spare_;
  bool history_stopping_ = false;

  std::thread engine_thread_, history_thread_;

  std::atomic<std::uint64_t> last_sequence_ = 0, state_hash_ = 0, batches_ = 0, events_ = 0,
                             accounts_ = 0, transfers_ = 0, checkpoint_sequence_ = 0,
                             replayed_batches_ = 0, rejected_overloaded_ = 0, last_ts_ = 0;
  // One checkpoint at a time is taken, copied out between batches (copying_checkpoint_, its
  // chunks waiting in copy_later_) and written by its own thread.
  std::atomic<bool> checkpoint_in_flight_ = false;
  CopyLater copy_later_;
  std::unique_ptr<store::PendingCheckpoint> copying_checkpoint_;
  std::thread checkpoint_thread_;
  // The last checkpoint written, handed back by its thread before it ends: its buffers take the
  // next one's copies (prepare_checkpoint). Read by the engine only after joining that thread.
  std::unique_ptr<store::PendingCheckpoint> spare_checkpoint_;
  std::uint64_t segments_removed_before_ = 0;  // engine thread
  // Memory for the next checkpoint's copies (heap_warmer.h); engine thread.
  HeapWarmer heap_warmer_;
  bool warmed_ = false;                 // warmed since the last checkpoint
  std::size_t copies_bytes_last_ = 0;   // the last checkpoint's copies, reused by the next
  std::atomic<double> batch_ms_last_ = 0;
  std::atomic<double> checkpoint_pause_ms_last_ = 0, checkpoint_pause_ms_max_ = 0;
  std::atomic<double> journal_wait_ms_total_ = 0, journal_wait_ms_max_ = 0;
};

Status Engine::Impl::open() {
  std::error_code error;
  fs::create_directories(options_.data_dir / "journal", error);
  if (error) {
    return Status::invalid_argument(
        fmt::format("cannot use data directory {}: {}", options_.data_dir.string(), error.message()));
  }
  if (Status status = store::Store::open(options_.data_dir, false, &store_); !status.is_ok()) {
    return status;
  }
  if (Status status = recover(); !status.is_ok()) return status;
  return Status::ok();
}

Status Engine::Impl::recover() {
  store::Checkpoint checkpoint;
  if (Status status = store_->read_checkpoint(&checkpoint); status.is_ok()) {
    state_.ledger.restore(std::move(checkpoint.accounts), std::move(checkpoint.transfers));
    if (!checkpoint.payments.empty() && !state_.payments.restore(checkpoint.payments, &checkpoint.parts)) {
      return Status::corruption(fmt::format("checkpoint at sequence {}: unreadable payments state",
                                            checkpoint.meta.sequence));
    }
    if (state_.hash() != checkpoint.meta.state_hash) {
      return Status::corruption(fmt::format("checkpoint at sequence {} does not match its state hash",
                                            checkpoint.meta.sequence));
    }
    last_timestamp_ = checkpoint.meta.timestamp;
    checkpoint_sequence_ = checkpoint.meta.sequence;
  } else if (status.code() != Status::Code::not_found) {
    return status;
  }
  const std::uint64_t from = checkpoint_sequence_;
  const std::uint64_t history_from = store_->history_sequence();
  std::uint64_t replayed = 0;
  state_.ledger.reserve_transfers(journal::events_bound(options_.data_dir / "journal"));
  state_.ledger.set_history_sink(&history_batch_);
  journal::End end;
  Status status = journal::recover(
      options_.data_dir / "journal", true,
      [&](const journal::EntryHeader& header, std::span<const std::byte> body) -> Status {
        if (header.sequence <= from) return Status::ok();
        if (replayed == 0 && header.sequence != from + 1) {
          return Status::corruption(fmt::format(
              "journal resumes at sequence {} but the checkpoint ends at {}", header.sequence, from));
        }
        history_batch_.clear();
        std::uint64_t last_timestamp = 0;
        if (Status replay = replay_entry(state_, header, body, buffers_, &last_timestamp);
            !replay.is_ok()) {
          return replay;
        }
        // Order changes replayed since the checkpoint are handed over again: a notification
        // that was committed but not yet stored by its consumer before a crash is not lost
        // (consumers drop what they already hold).
        state_.payments.take_events(&order_events_);
        if (options_.on_order_events && !order_events_.empty()) options_.on_order_events(order_events_);
        order_events_.clear();
        if (options_.history && header.sequence > history_from) {
          if (Status write = store_->write_history(header.sequence, history_batch_); !write.is_ok()) {
            return write;
          }
        }
        last_timestamp_ = last_timestamp;
        ++replayed;
        return Status::ok();
      },
      &end);
  history_batch_.clear();
  if (!status.is_ok()) return status;
  if (end.last_sequence < from) {
    return Status::corruption(fmt::format(
        "journal ends at sequence {} but the checkpoint is at {}: journal segments are missing",
        end.last_sequence, from));
  }
  if (end.torn_bytes_cut > 0) {
    std::fprintf(stderr, "capillary: cut a torn journal tail of %llu bytes after sequence %llu\n",
                 static_cast<unsigned long long>(end.torn_bytes_cut),
                 static_cast<unsigned long long>(end.last_sequence));
  }
  if (const std::string broken = state_.check_invariants(); !broken.empty()) {
    return Status::corruption("recovered state breaks an invariant: " + broken);
  }
  replayed_batches_ = replayed;
  last_sequence_ = end.last_sequence;
  if (!options_.history) state_.ledger.set_history_sink(nullptr);
  return journal::Writer::open(options_.data_dir / "journal", end, options_.sync, &writer_);
}

void Engine::Impl::start() {
  state_hash_ = state_.hash();
  accounts_ = state_.ledger.accounts().size();
  transfers_ = state_.ledger.transfers().size();
  last_ts_ = last_timestamp_;
  next_sequence_ = writer_->next_sequence();
  journal_thread_ = std::make_unique<JournalThread>(writer_.get(),
                                                    [this](std::uint64_t sequence) { complete(sequence); });
  history_thread_ = std::thread([this] {
    name_this_thread("history");
    run_history();
  });
  engine_thread_ = std::thread([this] {
    name_this_thread("engine");
    run();
  });
}

void Engine::Impl::stop() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_wake_.notify_all();
  if (engine_thread_.joinable()) engine_thread_.join();
  if (copying_checkpoint_) copy_checkpoint(std::numeric_limits<std::size_t>::max());
  // Before the history thread stops: a checkpoint being written may wait for its history.
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  {
    std::lock_guard lock(history_mutex_);
    history_stopping_ = true;
  }
  history_wake_.notify_all();
  if (history_thread_.joinable()) history_thread_.join();
  journal_thread_.reset();
  if (writer_ && last_sequence_ > checkpoint_sequence_) {
    const auto checkpoint = prepare_checkpoint(nullptr);
    // History is complete here: its thread drained its queue before it stopped.
    if (Status status = store_->write_checkpoint(*checkpoint); !status.is_ok()) {
      std::fprintf(stderr, "capillary: checkpoint at shutdown failed (the journal still has it all): %s\n",
                   status.message().c_str());
      return;
    }
    checkpoint_sequence_ = checkpoint->meta.sequence;
    remove_covered_segments();
  }
}

Submit Engine::Impl::submit(Request request) {
  const std::size_t events = events_of(request);
  if (!std::holds_alternative<Engine::Read>(request)) {
    if (events == 0) return Submit::empty;
    if (events > batch_events_max) return Submit::too_many_events;
  }
  {
    std::lock_guard lock(queue_mutex_);
    if (stopping_) return Submit::stopped;
    if (queue_.size() >= sequencer_queue_requests_max ||
        queue_events_ + events > sequencer_queue_events_max) {
      ++rejected_overloaded_;
      return Submit::overloaded;
    }
    queue_.push_back(std::move(request));
    queue_events_ += events;
  }
  queue_wake_.notify_one();
  return Submit::accepted;
}

void Engine::Impl::run() {
  while (true) {
    {
      std::unique_lock lock(queue_mutex_);
      if (queue_.empty() && !stopping_) {
        // Wake in time for the next hold to expire or deadline to fall due, even when no request
        // comes; at least every 200 ms, so a clock that jumps (a test's) is noticed.
        const auto next = state_.next_deadline();
        const std::uint64_t now = clock_->now_ns();
        const std::chrono::nanoseconds until{next && *next > now ? *next - now : 0};
        const auto idle = next ? std::clamp<std::chrono::nanoseconds>(until, std::chrono::milliseconds(1),
                                                                     std::chrono::milliseconds(200))
                               : std::chrono::nanoseconds(std::chrono::milliseconds(200));
        queue_wake_.wait_for(lock, idle, [this] { return !queue_.empty() || stopping_; });
      }
      if (queue_.empty() && stopping_) {
        lock.unlock();
        drain();
        return;
      }
      while (!queue_.empty()) {
        queue_events_ -= events_of(queue_.front());
        pending_.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    // What the clock made due runs before anything queued is answered, so a read at time t sees
    // every deadline up to t (an expired hold, a closed sale), not just those some write applied.
    if (const auto next = state_.next_deadline(); next && *next <= clock_->now_ns()) commit_tick();
    if (pending_.empty()) {
      // Idle: nobody waits on a batch, so a checkpoint being copied is finished at once, and the
      // journal thread is not touching the writer.
      if (journal_idle()) {
        if (copying_checkpoint_) copy_checkpoint(std::numeric_limits<std::size_t>::max());
        remove_covered_segments();
      }
      continue;
    }
    while (!pending_.empty()) {
      if (auto* read = std::get_if<Engine::Read>(&pending_.front())) {
        hold((*read)(state_));
        pending_.pop_front();
        continue;
      }
      // Reads queued between writes of the batch do not split it: each would cost a journal
      // entry and an fdatasync of its own. They run right after the batch is applied, so they
      // still see every write queued before them (and possibly a few queued after, which is a
      // later state: read-your-writes holds).
      const journal::EntryKind kind = kind_of(pending_.front());
      std::size_t requests = 0, events = 0;
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (auto* read = std::get_if<Engine::Read>(&*it)) {
          deferred_reads_.push_back(std::move(*read));
          it = pending_.erase(it);
          continue;
        }
        if (kind_of(*it) != kind || events + events_of(*it) > batch_events_max) break;
        events += events_of(*it);
        ++requests;
        ++it;
      }
      commit(kind, requests);
      for (Engine::Read& read : deferred_reads_) hold(read(state_));
      deferred_reads_.clear();
    }
    maybe_checkpoint();
  }
}

namespace {

// Gathers the events of a batch's requests (all of kind `Typed`) into `events`.
template <typename Typed, typename Event>
std::span<const std::byte> gather(const std::vector<Request>& requests, std::vector<Event>* events) {
  events->clear();
  for (const Request& request : requests) {
    const auto& typed = std::get<Typed>(request);
    events->insert(events->end(), typed.events.begin(), typed.events.end());
  }
  return {reinterpret_cast<const std::byte*>(events->data()), events->size() * sizeof(Event)};
}

// Hands each request its slice of the batch's results.
template <typename Typed, typename Result>
void answer(std::vector<Request>& requests, const std::vector<Result>& results) {
  std::size_t offset = 0;
  for (Request& request : requests) {
    auto& typed = std::get<Typed>(request);
    typed.done({results.data() + offset, typed.events.size()});
    offset += typed.events.size();
  }
}

}  // namespace

std::unique_ptr<Applied> Engine::Impl::new_batch(journal::EntryKind kind) {
  std::unique_ptr<Applied> batch;
  {
    std::lock_guard lock(flight_mutex_);
    if (!spare_.empty()) {
      batch = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  if (!batch) batch = std::make_unique<Applied>();
  batch->started = std::chrono::steady_clock::now();
  batch->kind = kind;
  batch->events = 0;
  return batch;
}

void Engine::Impl::commit(journal::EntryKind kind, std::size_t requests) {
  std::unique_ptr<Applied> batch = new_batch(kind);
  batch->requests.assign(std::make_move_iterator(pending_.begin()),
                         std::make_move_iterator(pending_.begin() + static_cast<std::ptrdiff_t>(requests)));
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(requests));
  std::span<const std::byte> body;
  switch (kind) {
    case journal::EntryKind::create_accounts:
      body = gather<AccountsRequest>(batch->requests, &batch->buffers.accounts);
      break;
    case journal::EntryKind::create_transfers:
      body = gather<TransfersRequest>(batch->requests, &batch->buffers.transfers);
      break;
    case journal::EntryKind::payments:
      body = gather<PaymentsRequest>(batch->requests, &batch->buffers.commands);
      break;
    case journal::EntryKind::tick:
      CAP_ASSERT(false);
  }
  for (const Request& request : batch->requests) batch->events += events_of(request);
  CAP_ASSERT(batch->events > 0 && batch->events <= batch_events_max);
  append_and_apply(std::move(batch), body);
}

void Engine::Impl::commit_tick() { append_and_apply(new_batch(journal::EntryKind::tick), {}); }

void Engine::Impl::append_and_apply(std::unique_ptr<Applied> batch, std::span<const std::byte> body) {
  wait_for_journal(journal_entries_in_flight_max - 1);
  journal::EntryHeader header{};
  header.sequence = next_sequence_++;
  // Timestamps strictly increase across balance changes, even if the wall clock steps back.
  header.timestamp = std::max(last_timestamp_ + 1, clock_->now_ns());
  header.state_hash = state_.hash();
  header.kind = batch->kind;
  header.event_count = static_cast<std::uint32_t>(batch->events);
  header.body_bytes = static_cast<std::uint32_t>(body.size());
  journal_thread_->append(header, body);
  journal_bytes_.store(journal_bytes_.load(std::memory_order_relaxed) + journal::entry_bytes(header),
                       std::memory_order_relaxed);
  batch->history.clear();
  if (options_.history) state_.ledger.set_history_sink(&batch->history);
  last_timestamp_ = apply_batch(state_, header, batch->buffers);
  state_.payments.take_events(&batch->order_events);
  batch->sequence = header.sequence;
  batch->last_timestamp = last_timestamp_;
  batch->state_hash = state_.hash();
  batch->accounts = state_.ledger.accounts().size();
  batch->transfers = state_.ledger.transfers().size();
  // From here the journal thread owns the batch; the engine thread only adds replies to it.
  {
    std::lock_guard lock(flight_mutex_);
    in_flight_.push_back(std::move(batch));
  }
  flight_wake_.notify_all();
}

void Engine::Impl::hold(Engine::Reply reply) {
  if (!reply) return;
  {
    std::lock_guard lock(flight_mutex_);
    if (!in_flight_.empty()) return in_flight_.back()->replies.push_back(std::move(reply));
  }
  reply();
}

void Engine::Impl::wait_for_journal(std::size_t batches) {
  std::unique_lock lock(flight_mutex_);
  if (in_flight_.size() <= batches) return;
  const auto started = std::chrono::steady_clock::now();
  flight_wake_.wait(lock, [&] { return in_flight_.size() <= batches; });
  lock.unlock();
  const double waited_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  // Written by this thread alone; atomics only so that stats() may read them from another.
  journal_wait_ms_total_.store(journal_wait_ms_total_.load(std::memory_order_relaxed) + waited_ms,
                               std::memory_order_relaxed);
  if (waited_ms > journal_wait_ms_max_.load(std::memory_order_relaxed)) journal_wait_ms_max_ = waited_ms;
}

// The journal thread answers as soon as the sync returns, not when the engine thread next looks
// up from applying a batch, which at the peak takes milliseconds.
void Engine::Impl::complete(std::uint64_t sequence) {
  Applied* batch = nullptr;
  {
    std::unique_lock lock(flight_mutex_);
    // The entry may be durable before the engine has finished applying its batch.
    flight_wake_.wait(lock, [&] { return !in_flight_.empty() && in_flight_.front()->sequence == sequence; });
    batch = in_flight_.front().get();
  }
  // Published before any client hears back, so a client that waits for history after its
  // results always waits for this batch too (read-your-writes on statements).
  publish(*batch);
  switch (batch->kind) {
    case journal::EntryKind::create_accounts:
      answer<AccountsRequest>(batch->requests, batch->buffers.account_results);
      break;
    case journal::EntryKind::create_transfers:
      answer<TransfersRequest>(batch->requests, batch->buffers.transfer_results);
      break;
    case journal::EntryKind::payments:
      answer<PaymentsRequest>(batch->requests, batch->buffers.outcomes);
      break;
    case journal::EntryKind::tick:
      break;
  }
  // Off the list only now, so a read that finds nothing in flight runs its reply after every
  // answer it could have seen.
  std::unique_ptr<Applied> answered;
  std::vector<Engine::Reply> replies;
  {
    std::lock_guard lock(flight_mutex_);
    answered = std::move(in_flight_.front());
    in_flight_.pop_front();
    replies.swap(answered->replies);
  }
  flight_wake_.notify_all();
  for (Engine::Reply& reply : replies) reply();
  batch_ms_last_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - answered->started).count();
  answered->requests.clear();
  std::lock_guard lock(flight_mutex_);
  if (spare_.size() < journal_entries_in_flight_max) spare_.push_back(std::move(answered));
}

// Hands a durable batch's history to the history thread (waiting while its queue is full, which
// is how a slow history store slows the engine instead of growing memory) and its order changes
// to their consumer, and updates the stats.
void Engine::Impl::publish(Applied& batch) {
  if (options_.history) {
    enqueue_history({batch.sequence, std::move(batch.history)});
    std::lock_guard lock(history_mutex_);
    batch.history.clear();
    if (!history_spare_.empty()) {
      batch.history = std::move(history_spare_.back());
      history_spare_.pop_back();
    }
  }
  if (options_.on_order_events && !batch.order_events.empty()) options_.on_order_events(batch.order_events);
  batch.order_events.clear();
  last_sequence_ = batch.sequence;
  state_hash_ = batch.state_hash;
  accounts_ = batch.accounts;
  transfers_ = batch.transfers;
  last_ts_ = batch.last_timestamp;
  ++batches_;
  events_ += batch.events;
}

void Engine::Impl::enqueue_history(HistoryWork work) {
  std::unique_lock lock(history_mutex_);
  history_space_.wait(lock, [this] { return history_queue_.size() < history_queue_batches_max; });
  history_queue_.push_back(std::move(work));
  history_wake_.notify_one();
}

void Engine::Impl::run_history() {
  std::unique_lock lock(history_mutex_);
  while (true) {
    history_wake_.wait(lock, [this] { return !history_queue_.empty() || history_stopping_; });
    if (history_queue_.empty()) return;
    HistoryWork work = std::move(history_queue_.front());
    history_queue_.pop_front();
    history_space_.notify_all();
    lock.unlock();
    if (Status status = store_->write_history(work.sequence, work.entries); !status.is_ok()) {
      fatal(status);
    }
    work.entries.clear();
    lock.lock();
    if (history_spare_.size() < history_queue_batches_max) {
      history_spare_.push_back(std::move(work.entries));
    }
    history_written_.notify_all();
  }
}

void Engine::Impl::wait_for_history() { wait_for_history_through(last_sequence_); }

void Engine::Impl::wait_for_history_through(std::uint64_t sequence) {
  if (!options_.history) return;
  std::unique_lock lock(history_mutex_);
  history_written_.wait(lock, [&] { return store_->history_sequence() >= sequence || history_stopping_; });
}

// The engine takes a checkpoint between two batches and copies its chunks a step at a time
// between the batches after (core/chunk_copies.h); a thread of the checkpoint's own writes them
// while batches go on.
void Engine::Impl::maybe_checkpoint() {
  if (copying_checkpoint_) return copy_checkpoint(options_.checkpoint_copy_step_bytes);
  const std::uint64_t journaled = journal_bytes_ - journal_bytes_at_checkpoint_;
  // Halfway, the tables have changed about half of what the checkpoint will copy (a quarter more
  // covers a rate that rises meanwhile): what that is beyond the earlier checkpoint's copies,
  // which it reuses, is warmed now. The ledger's chunks count too: without them the first
  // checkpoint of a 12-12-6 run paused the engine 0.8 s, faulting in 170 MB of account and
  // transfer copies, and the second 0.3 s.
  if (!warmed_ && journaled >= options_.checkpoint_journal_bytes / 2) {
    const std::size_t changed = state_.payments.changed_bytes() + state_.ledger.changed_bytes();
    const std::size_t expected = 2 * changed + changed / 2;
    if (expected > copies_bytes_last_) heap_warmer_.warm(expected - copies_bytes_last_);
    warmed_ = true;
  }
  if (checkpoint_in_flight_ || journaled < options_.checkpoint_journal_bytes) return;
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();  // finished: not in flight
  // A checkpoint is of a durable state; with the journal idle, the segments the last one covers
  // can go too.
  drain();
  remove_covered_segments();
  checkpoint_in_flight_ = true;
  warmed_ = false;
  journal_bytes_at_checkpoint_ = journal_bytes_;
  const auto started = std::chrono::steady_clock::now();
  checkpoint_pause_ms_last_ = 0;
  copying_checkpoint_ = prepare_checkpoint(&copy_later_);
  note_checkpoint_pause(started);
}

// Copies up to `budget` bytes of the checkpoint's chunks; once all are copied, hands it to its
// thread.
void Engine::Impl::copy_checkpoint(std::size_t budget) {
  const auto started = std::chrono::steady_clock::now();
  const bool copied = copy_later_.copy_some(budget);
  note_checkpoint_pause(started);
  if (!copied) return;
  copies_bytes_last_ = 0;
  for (const auto& [key, bytes] : copying_checkpoint_->changed_parts) copies_bytes_last_ += bytes.capacity();
  for (const auto& [key, bytes] : copying_checkpoint_->entries) copies_bytes_last_ += bytes.capacity();
  checkpoint_thread_ = std::thread(
      [this, checkpoint = std::move(copying_checkpoint_)]() mutable {
        name_this_thread("checkpoint");
        // It has until the next checkpoint is due, seconds away: on a peak the threads answering
        // clients go first (a later one is skipped, not queued, while it is in flight).
        lower_this_thread_priority(10);
        write_checkpoint(std::move(checkpoint));
      });
}

void Engine::Impl::note_checkpoint_pause(std::chrono::steady_clock::time_point started) {
  const double paused_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  if (paused_ms > checkpoint_pause_ms_last_) checkpoint_pause_ms_last_ = paused_ms;
  if (paused_ms > checkpoint_pause_ms_max_) checkpoint_pause_ms_max_ = paused_ms;
}

// A checkpoint may not point past history that a crash could still lose: it waits until the
// history of every batch it covers is in RocksDB, and the store flushes it before writing.
void Engine::Impl::write_checkpoint(std::unique_ptr<store::PendingCheckpoint> checkpoint) {
  wait_for_history_through(checkpoint->meta.sequence);
  if (Status status = store_->write_checkpoint(*checkpoint); !status.is_ok()) fatal(status);
  checkpoint_sequence_ = checkpoint->meta.sequence;
  spare_checkpoint_ = std::move(checkpoint);
  checkpoint_in_flight_ = false;
}

// Runs on the engine thread between batches (or after it stopped), so the ledger is quiet. The
// copies go into the buffers of the checkpoint written before, already mapped: now, or by `later`.
std::unique_ptr<store::PendingCheckpoint> Engine::Impl::prepare_checkpoint(CopyLater* later) {
  const store::CheckpointMeta meta{last_sequence_, last_timestamp_, state_.hash(),
                                   state_.ledger.accounts().size(), state_.ledger.transfers().size()};
  const ledger::Ledger::ChangedChunks changed = state_.ledger.take_changed_chunks();
  auto checkpoint = spare_checkpoint_ ? std::move(spare_checkpoint_)
                                      : std::make_unique<store::PendingCheckpoint>();
  heap_warmer_.release();
  // The payments tables' and fund registers' changed chunks are copied into the parts; the store
  // adds the rest of the payments state on the checkpoint's thread.
  store::Store::prepare_checkpoint(checkpoint.get(), meta, state_.ledger.accounts(),
                                   state_.ledger.transfers(), changed, later,
                                   [this](fund::Parts* parts, CopyLater* later) {
                                     return state_.payments.save(parts, later);
                                   });
  return checkpoint;
}

// Journal segments wholly covered by a durable checkpoint are no longer needed for recovery.
// Done on the engine thread while nothing is in flight, so the journal thread leaves the writer be.
void Engine::Impl::remove_covered_segments() {
  CAP_ASSERT(journal_idle());
  const std::uint64_t before = checkpoint_sequence_ + 1;
  if (before <= segments_removed_before_) return;
  if (Status status = writer_->remove_segments_before(before); !status.is_ok()) fatal(status);
  segments_removed_before_ = before;
}

Stats Engine::Impl::stats() const {
  Stats stats;
  stats.last_sequence = last_sequence_;
  stats.last_timestamp = last_ts_;
  stats.state_hash = state_hash_;
  stats.batches = batches_;
  stats.events = events_;
  stats.journal_bytes = journal_bytes_;
  stats.accounts = accounts_;
  stats.transfers = transfers_;
  stats.history_sequence = store_->history_sequence();
  stats.checkpoint_sequence = checkpoint_sequence_;
  stats.replayed_batches = replayed_batches_;
  {
    std::lock_guard lock(queue_mutex_);
    stats.queue_depth = queue_.size();
  }
  stats.rejected_overloaded = rejected_overloaded_;
  stats.batch_ms_last = batch_ms_last_;
  stats.checkpoint_pause_ms_last = checkpoint_pause_ms_last_;
  stats.checkpoint_pause_ms_max = checkpoint_pause_ms_max_;
  stats.journal_wait_ms_total = journal_wait_ms_total_;
  stats.journal_wait_ms_max = journal_wait_ms_max_;
  return stats;
}

Status Engine::open(const Options& options, std::unique_ptr<Engine>* engine) {
  auto impl = std::make_unique<Impl>(options);
  if (Status status = impl->open(); !status.is_ok()) return status;
  impl->start();
  engine->reset(new Engine(std::move(impl)));
  return Status::ok();
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { impl_->stop(); }

Submit Engine::submit_accounts(std::vector<ledger::AccountSpec> events, AccountResults done) {
  return impl_->submit(AccountsRequest{std::move(events), std::move(done)});
}

Submit Engine::submit_transfers(std::vector<ledger::Transfer> events, TransferResults done) {
  return impl_->submit(TransfersRequest{std::move(events), std::move(done)});
}

Submit Engine::submit_payments(std::vector<payments::Command> commands, PaymentOutcomes done) {
  return impl_->submit(PaymentsRequest{std::move(commands), std::move(done)});
}

Submit Engine::submit_read(Read read) { return impl_->submit(std::move(read)); }

namespace {

// Retries a submission while the queue is full; the blocking API is for tools, which would
// rather wait than fail.
template <typename Submitter>
void submit_waiting(Submitter submitter) {
  while (true) {
    const Submit result = submitter();
    if (result == Submit::accepted) return;
    CAP_ASSERT(result == Submit::overloaded);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Submits (retrying while the queue is full) and waits for the results.
template <typename Result, typename Event, typename SubmitFn>
std::vector<Result> submit_and_wait(const std::vector<Event>& events, SubmitFn submit) {
  std::promise<std::vector<Result>> promise;
  auto future = promise.get_future();
  submit_waiting([&] {
    return submit(events, [&promise](std::span<const Result> results) {
      promise.set_value({results.begin(), results.end()});
    });
  });
  return future.get();
}

}  // namespace

std::vector<ledger::CreateAccountResult> Engine::create_accounts(std::vector<ledger::AccountSpec> events) {
  return submit_and_wait<ledger::CreateAccountResult>(
      events, [this](auto copy, auto done) { return submit_accounts(std::move(copy), std::move(done)); });
}

std::vector<ledger::CreateTransferResult> Engine::create_transfers(std::vector<ledger::Transfer> events) {
  return submit_and_wait<ledger::CreateTransferResult>(
      events, [this](auto copy, auto done) { return submit_transfers(std::move(copy), std::move(done)); });
}

std::vector<payments::Outcome> Engine::execute(std::vector<payments::Command> commands) {
  return submit_and_wait<payments::Outcome>(
      commands, [this](auto copy, auto done) { return submit_payments(std::move(copy), std::move(done)); });
}

void Engine::read(const Inspect& inspect) {
  std::promise<void> promise;
  auto future = promise.get_future();
  submit_waiting([&] {
    return submit_read([&](const State& state) -> Reply {
      inspect(state);
      return [&promise] { promise.set_value(); };
    });
  });
  future.get();
}

void Engine::wait_for_history() { impl_->wait_for_history(); }
const store::Store& Engine::store() const { return impl_->store(); }
Stats Engine::stats() const { return impl_->stats(); }

}  // namespace capillary::engine
