#pragma once
// The history store and checkpoints, in two RocksDB databases under the data directory: history/
// and checkpoints/. Written only from committed batches, off the commit path: the journal stays
// the source of truth. Two databases, not one, because a checkpoint rewrites hundreds of megabytes
// each time; in the history database its files would be compacted together with history's (and,
// written as a synced batch as it once was, it queued every history write behind it).
//
// Keys (big-endian integers, so RocksDB's byte order is numeric order):
//   'h' account_id u64  timestamp u64  transfer_id u64  -> StoredLine StoredNextLine*
//        the account's balance changes in one journal entry, oldest first; the key names the
//        first, each later one carries its own timestamp and transfer
//   'm' "history"                                        -> u64            last sequence written
// and in checkpoints/:
//   'c' "meta"                                           -> CheckpointMeta
//   'c' 'a' chunk u32                                    -> Account[<= checkpoint_chunk_records]
//   'c' 't' chunk u32                                    -> TransferRecord[<= checkpoint_chunk_records]
//   'c' "payments"                                       -> u64: bytes of the payments module's state
//                                                           (all of it but the parts below)
//   'c' 'p' part u32                                     -> those bytes, 64 MiB a part
//   'c' 'x' key                                          -> a module's part kept across checkpoints
//                                                           (a fund register's chunk, a payments
//                                                           table's chunk)
// History is written without RocksDB's WAL (the journal replays it after a crash); a checkpoint
// is written after a flush, as one synced table file ingested at once, so a checkpoint never
// points past history that could still be lost.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/chunk_copies.h"
#include "core/limits.h"
#include "core/status.h"
#include "ledger/ledger.h"
#include "ledger/types.h"

namespace rocksdb {
class DB;
}

namespace capillary::store {

// One line of an account's statement: which transfer changed the account's balances (or which
// hold expired), when, and the balances right after. The transfer itself is the ledger's to show:
// repeating its 80 bytes in both accounts' lines tripled what RocksDB had to flush and compact,
// which is what bounds history ingest.
struct StatementLine {
  std::uint64_t timestamp;  // when the balances changed
  std::uint64_t transfer_id;
  std::uint64_t expired;    // 1 when a hold expired here
  ledger::Balances balances_after;
};

// The first line of a group on disk; its timestamp and transfer id are in the key.
struct StoredLine {
  std::uint64_t expired;
  ledger::Balances balances_after;
};
static_assert(sizeof(StoredLine) == 40 && std::has_unique_object_representations_v<StoredLine>);

// Each later line of a group. An account busy in one journal entry (the escrow account takes a
// line for every order paid) gets one record for all its lines there rather than one each, which
// halves the records a 12-12-6 run has RocksDB sort, flush and compact.
struct StoredNextLine {
  std::uint64_t timestamp;
  std::uint64_t transfer_id;
  StoredLine line;
};
static_assert(sizeof(StoredNextLine) == 56 && std::has_unique_object_representations_v<StoredNextLine>);

struct CheckpointMeta {
  std::uint64_t sequence;     // last journal entry the checkpoint includes
  std::uint64_t timestamp;    // that entry's timestamp
  std::uint64_t state_hash;
  std::uint64_t accounts;
  std::uint64_t transfers;
};
static_assert(sizeof(CheckpointMeta) == 40);

struct Checkpoint {
  CheckpointMeta meta{};
  std::vector<ledger::Account> accounts;
  std::vector<ledger::TransferRecord> transfers;
  std::string payments;  // empty in a checkpoint written before the payments module existed
  // Parts of the module state written when they changed and kept until they change again.
  std::map<std::string, std::string> parts;
};

// A checkpoint copied out of the ledger and not yet written (see Store::prepare_checkpoint).
struct PendingCheckpoint {
  CheckpointMeta meta{};
  // What the checkpoint writes by key (byte order, which is RocksDB's): the ledger's changed
  // chunks and the meta record, copied by prepare_checkpoint; the payments state in parts, added
  // by write_checkpoint so it is not copied on the engine thread.
  std::map<std::string, std::string> entries;
  std::string payments;
  // The modules' changed parts by their own keys, written under the parts prefix.
  std::map<std::string, std::string> changed_parts;
  bool payments_added = false;
};

class Store {
 public:
  // Opens history/ and checkpoints/ under `data_dir`. `read_only` opens beside a running engine
  // (for verify) and allows no writes.
  static Status open(const std::filesystem::path& data_dir, bool read_only,
                     std::unique_ptr<Store>* store);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Records one committed batch's balance changes. Idempotent: writing a sequence again writes
  // the same keys and values.
  Status write_history(std::uint64_t sequence, std::span<const ledger::HistoryEntry> entries);
  // Last sequence whose history is written (0 when none).
  std::uint64_t history_sequence() const;

  // Statement lines of `account_id` with from_ns <= timestamp < to_ns, oldest first, at most
  // `limit`. To page, call again with from_ns = last line's timestamp + 1.
  Status statement(std::uint64_t account_id, std::uint64_t from_ns, std::uint64_t to_ns,
                   std::uint32_t limit, std::vector<StatementLine>* lines) const;
  // The account's balances after its last change at or before `at_ns`; not_found when it had
  // none by then.
  Status balance_as_of(std::uint64_t account_id, std::uint64_t at_ns, StatementLine* line) const;

  // A checkpoint in two steps, so the engine pauses only to copy: prepare_checkpoint copies the
  // meta record and the chunks (of checkpoint_chunk_records records) listed in `changed` out of
  // the ledger's tables; write_checkpoint then, on any thread, flushes history and writes them
  // all at once (one table file, synced and ingested). Every chunk not listed must be unchanged
  // since the previous checkpoint; the first checkpoint lists them all. With `later`, the
  // tables' chunks are only taken, and copied by it (core/chunk_copies.h): write_checkpoint
  // waits until it has copied them all. The payments module's
  // state (`payments`, small once its tables go in parts) is written whole each time, its
  // `changed_parts` over the earlier ones of their keys.
  // `save_modules` returns the payments state and puts the changed parts in the map it is given.
  // The copies go into `checkpoint`, reusing the buffers it holds from an earlier checkpoint:
  // copying into memory already mapped costs the copy, into fresh memory a page fault a page
  // besides, by far the larger part.
  using SaveModules =
      std::function<std::string(std::map<std::string, std::string>* parts, CopyLater* later)>;
  static void prepare_checkpoint(
      PendingCheckpoint* checkpoint, const CheckpointMeta& meta, const ledger::AccountTable& accounts,
      const ledger::TransferTable& transfers, const ledger::Ledger::ChangedChunks& changed,
      CopyLater* later, const SaveModules& save_modules);
  Status write_checkpoint(PendingCheckpoint& checkpoint);
  // The latest checkpoint; not_found when there is none.
  Status read_checkpoint(Checkpoint* checkpoint) const;

 private:
  Store(rocksdb::DB* history, rocksdb::DB* checkpoints);
  rocksdb::DB* history_db_;
  rocksdb::DB* checkpoint_db_;
  std::atomic<std::uint64_t> history_sequence_ = 0;
  // write_history's buffers, kept between calls (it is called from one thread at a time).
  struct Line;
  std::vector<Line> history_lines_;
  std::string history_group_;
};

}  // namespace capillary::store
