#include <fmt/format.h>

#include <chrono>

#include "engine/engine.h"
#include "engine/replay.h"
#include "journal/journal.h"

namespace capillary::engine {

Status verify(const std::filesystem::path& data_dir, bool from_checkpoint, VerifyReport* report) {
  *report = VerifyReport{};
  if (!std::filesystem::is_directory(data_dir / "journal")) {
    return Status::invalid_argument(
        fmt::format("{} is not a Capillary data directory (no journal/ inside)", data_dir.string()));
  }
  State state;
  if (from_checkpoint && std::filesystem::exists(data_dir / "checkpoints" / "CURRENT")) {
    std::unique_ptr<store::Store> store;
    if (Status status = store::Store::open(data_dir, true, &store); !status.is_ok()) {
      return status;
    }
    store::Checkpoint checkpoint;
    if (Status status = store->read_checkpoint(&checkpoint); status.is_ok()) {
      state.ledger.restore(std::move(checkpoint.accounts), std::move(checkpoint.transfers));
      if (!checkpoint.payments.empty() && !state.payments.restore(checkpoint.payments, &checkpoint.parts)) {
        return Status::corruption(fmt::format("checkpoint at sequence {}: unreadable payments state",
                                              checkpoint.meta.sequence));
      }
      if (state.hash() != checkpoint.meta.state_hash) {
        return Status::corruption(fmt::format(
            "checkpoint at sequence {} does not match its state hash", checkpoint.meta.sequence));
      }
      report->checkpoint_sequence = checkpoint.meta.sequence;
    } else if (status.code() != Status::Code::not_found) {
      return status;
    }
  }
  state.ledger.reserve_transfers(journal::events_bound(data_dir / "journal"));
  const auto started = std::chrono::steady_clock::now();
  ReplayBuffers buffers;
  std::vector<payments::OrderEvent> order_events;
  journal::End end;
  Status status = journal::recover(
      data_dir / "journal", false,
      [&](const journal::EntryHeader& header, std::span<const std::byte> body) -> Status {
        if (header.sequence <= report->checkpoint_sequence) return Status::ok();
        if (report->batches_replayed == 0 && header.sequence != report->checkpoint_sequence + 1) {
          return Status::corruption(fmt::format(
              "journal starts at sequence {}, but replay needs {}{}", header.sequence,
              report->checkpoint_sequence + 1,
              from_checkpoint ? "" : " (older segments were removed after a checkpoint)"));
        }
        std::uint64_t last_timestamp = 0;
        if (Status replay = replay_entry(state, header, body, buffers, &last_timestamp);
            !replay.is_ok()) {
          return replay;
        }
        state.payments.take_events(&order_events);  // nobody to notify here
        order_events.clear();
        ++report->batches_replayed;
        report->events_replayed += header.event_count;
        return Status::ok();
      },
      &end);
  if (!status.is_ok()) return status;
  report->replay_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  report->last_sequence = std::max(end.last_sequence, report->checkpoint_sequence);
  report->torn_bytes = end.torn_bytes_cut;
  report->accounts = state.ledger.accounts().size();
  report->transfers = state.ledger.transfers().size();
  report->state_hash = state.hash();
  report->invariant_error = state.check_invariants();
  return Status::ok();
}

}  // namespace capillary::engine
