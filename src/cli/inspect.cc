// verify, replay and status: commands that read a data directory without serving it.

#include <fmt/format.h>

#include "cli/operator.h"
#include "engine/engine.h"
#include "journal/journal.h"
#include "store/store.h"

namespace capillary::cli {
namespace {

void print_report(const engine::VerifyReport& report) {
  fmt::print("checkpoint_sequence={} last_sequence={} batches_replayed={} events_replayed={}\n",
             report.checkpoint_sequence, report.last_sequence, report.batches_replayed,
             report.events_replayed);
  fmt::print("accounts={} transfers={} state_hash={:016x}\n", report.accounts, report.transfers,
             report.state_hash);
  if (report.torn_bytes > 0) {
    fmt::print("note: the journal ends in a torn entry; `serve` cuts it on start\n");
  }
}

bool check_data_dir(const std::filesystem::path& data_dir) {
  if (std::filesystem::is_directory(data_dir / "journal")) return true;
  fmt::print(stderr, "capillary: {} is not a Capillary data directory (no journal/ inside)\n",
             data_dir.string());
  return false;
}

}  // namespace

namespace {

// verify (from the latest checkpoint) and replay (from the journal's first entry) differ only in
// where the rebuild starts and what they report.
int rebuild(const std::filesystem::path& data_dir, bool from_checkpoint, std::string_view command) {
  if (!check_data_dir(data_dir)) return 2;
  engine::VerifyReport report;
  if (Status status = engine::verify(data_dir, from_checkpoint, &report); !status.is_ok()) {
    fmt::print(stderr, "{} FAILED: {}\n", command, status.message());
    return 1;
  }
  print_report(report);
  if (!report.invariant_error.empty()) {
    fmt::print(stderr, "{} FAILED: {}\n", command, report.invariant_error);
    return 1;
  }
  if (!from_checkpoint) {
    const double rate = report.replay_seconds > 0
                            ? static_cast<double>(report.events_replayed) / report.replay_seconds
                            : 0.0;
    fmt::print("replayed {} events in {:.3f} s: {:.0f} events/s\n", report.events_replayed,
               report.replay_seconds, rate);
  }
  fmt::print("{} ok: every journal entry replayed to its recorded state hash; debits equal "
             "credits on every ledger; every balance constraint and hold total holds\n",
             command);
  return 0;
}

}  // namespace

int run_verify(const std::filesystem::path& data_dir) { return rebuild(data_dir, true, "verify"); }

int run_replay(const std::filesystem::path& data_dir) { return rebuild(data_dir, false, "replay"); }

int run_status(const std::filesystem::path& data_dir) {
  if (!check_data_dir(data_dir)) return 2;
  std::uint64_t entries = 0, events = 0;
  journal::End end;
  const Status journal_status = journal::recover(
      data_dir / "journal", false,
      [&](const journal::EntryHeader& header, std::span<const std::byte>) {
        ++entries;
        events += header.event_count;
        return Status::ok();
      },
      &end);
  fmt::print("journal: {} ({} entries, {} events on disk, last sequence {})\n",
             journal_status.is_ok() ? "ok" : journal_status.message(), entries, events,
             end.last_sequence);
  std::unique_ptr<store::Store> store;
  if (Status status = store::Store::open(data_dir, true, &store); !status.is_ok()) {
    fmt::print("history: {}\n", status.message());
    return 1;
  }
  fmt::print("history: written through sequence {}\n", store->history_sequence());
  store::Checkpoint checkpoint;
  if (store->read_checkpoint(&checkpoint).is_ok()) {
    fmt::print("checkpoint: sequence {}, {} accounts, {} transfers, state hash {:016x}\n",
               checkpoint.meta.sequence, checkpoint.meta.accounts, checkpoint.meta.transfers,
               checkpoint.meta.state_hash);
  } else {
    fmt::print("checkpoint: none yet\n");
  }
  return journal_status.is_ok() ? 0 : 1;
}

}  // namespace capillary::cli
