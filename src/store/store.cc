#include "store/store.h"

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/assert.h"
#include "store/rocksdb_status.h"

namespace capillary::store {
namespace {

// Read-only opens beside a running engine, 50 ms apart (open_db).
constexpr int read_only_open_attempts = 20;

// Bytes of a table file written between requests to the kernel to start writing it out (open).
constexpr std::uint64_t table_bytes_per_sync = 1u << 20;

namespace fs = std::filesystem;

constexpr char history_prefix = 'h';
const std::string history_sequence_key = "m:history";
const std::string checkpoint_meta_key = "c:meta...";
const std::string checkpoint_payments_key = "c:payments";
// The payments state is written in parts: a fund's register of a hundred million holders alone is
// gigabytes, past what one RocksDB value may hold (4 GiB) and far past what it should.
constexpr std::size_t payments_part_bytes = 64u << 20;
const std::string checkpoint_part_prefix = "c:x:";

void put_big_endian32(std::string* out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

constexpr std::size_t history_key_bytes = 25;

// 'h' account timestamp transfer_id, big-endian, built on the stack: the history thread makes two
// per transfer, so they must not allocate.
class HistoryKey {
 public:
  HistoryKey(std::uint64_t account_id, std::uint64_t timestamp, std::uint64_t transfer_id) {
    bytes_[0] = history_prefix;
    put(1, account_id);
    put(9, timestamp);
    put(17, transfer_id);
  }
  rocksdb::Slice slice() const { return {bytes_, history_key_bytes}; }

 private:
  void put(std::size_t at, std::uint64_t value) {
    for (int i = 7; i >= 0; --i, value >>= 8) bytes_[at + static_cast<std::size_t>(i)] = static_cast<char>(value);
  }
  char bytes_[history_key_bytes];
};

std::uint64_t read_big_endian(const char* bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = value << 8 | static_cast<std::uint8_t>(bytes[i]);
  return value;
}

std::string chunk_key(char table, std::uint32_t chunk) {
  std::string key = {'c', table, ':', ':'};
  put_big_endian32(&key, chunk);
  key.push_back(':');
  return key;
}

template <typename Record>
rocksdb::Slice slice_of(const Record* records, std::size_t count) {
  return {reinterpret_cast<const char*>(records), count * sizeof(Record)};
}

template <typename Record>
Record decode(const rocksdb::Slice& value) {
  CAP_ASSERT(value.size() == sizeof(Record));
  Record record;
  std::memcpy(&record, value.data(), sizeof record);
  return record;
}

std::uint64_t account_of(const rocksdb::Slice& key) { return read_big_endian(key.data() + 1); }

// Calls `take` with each line of a stored group, oldest first, until it returns false.
template <typename Take>
Status for_each_line(const rocksdb::Slice& key, const rocksdb::Slice& value, Take take) {
  if (key.size() != history_key_bytes || value.size() < sizeof(StoredLine) ||
      (value.size() - sizeof(StoredLine)) % sizeof(StoredNextLine) != 0) {
    return Status::corruption(fmt::format("history record of {} key and {} value bytes",
                                          key.size(), value.size()));
  }
  const auto first = decode<StoredLine>(rocksdb::Slice(value.data(), sizeof(StoredLine)));
  if (!take(StatementLine{read_big_endian(key.data() + 9), read_big_endian(key.data() + 17),
                          first.expired, first.balances_after})) {
    return Status::ok();
  }
  for (std::size_t at = sizeof(StoredLine); at < value.size(); at += sizeof(StoredNextLine)) {
    const auto next = decode<StoredNextLine>(rocksdb::Slice(value.data() + at, sizeof(StoredNextLine)));
    if (!take(StatementLine{next.timestamp, next.transfer_id, next.line.expired,
                            next.line.balances_after})) {
      break;
    }
  }
  return Status::ok();
}

// Takes the listed chunks into `entries` (now, or by `later`), each into a buffer from `spare`
// while there are any.
template <typename Table>
void copy_chunks(std::map<std::string, std::string>* entries, std::vector<std::string>* spare,
                 char table, const Table& records, std::span<const std::uint32_t> chunks,
                 ChunkCopies* copies, CopyLater* later) {
  for (const std::uint32_t chunk : chunks) {
    const std::size_t start = std::size_t{chunk} * checkpoint_chunk_records;
    // A chunk emptied by a rolled-back chain has nothing left to write.
    if (start >= records.size()) continue;
    const std::size_t count = std::min<std::size_t>(checkpoint_chunk_records, records.size() - start);
    const auto run = records.run(start, count);
    std::string bytes;
    if (!spare->empty()) {
      bytes = std::move(spare->back());
      spare->pop_back();
    }
    const auto [it, inserted] = entries->insert_or_assign(chunk_key(table, chunk), std::move(bytes));
    CAP_ASSERT(copies != nullptr);
    copies->take(later, chunk, run.data(), run.size_bytes(), &it->second);
  }
}

template <typename Record>
Status read_chunks(rocksdb::DB* db, char table, std::uint64_t count, std::vector<Record>* out) {
  out->resize(count);
  std::string value;
  for (std::uint64_t start = 0, chunk = 0; start < count; start += checkpoint_chunk_records, ++chunk) {
    const std::uint64_t expected = std::min<std::uint64_t>(checkpoint_chunk_records, count - start);
    const auto status = db->Get(rocksdb::ReadOptions(), chunk_key(table, static_cast<std::uint32_t>(chunk)), &value);
    if (!status.ok()) return from_rocksdb(status, fmt::format("checkpoint chunk {}{}", table, chunk));
    if (value.size() != expected * sizeof(Record)) {
      return Status::corruption(fmt::format("checkpoint chunk {}{} has {} bytes, expected {}",
                                            table, chunk, value.size(), expected * sizeof(Record)));
    }
    std::memcpy(out->data() + start, value.data(), value.size());
  }
  return Status::ok();
}

}  // namespace

// One balance change as write_history groups them: by account, then in time.
struct Store::Line {
  std::uint64_t account_id;
  std::uint64_t timestamp;
  std::uint64_t transfer_id;
  StoredLine stored;

  auto order() const { return std::tie(account_id, timestamp, transfer_id); }
};

Store::Store(rocksdb::DB* history, rocksdb::DB* checkpoints)
    : history_db_(history), checkpoint_db_(checkpoints) {}

Store::~Store() {
  delete checkpoint_db_;
  delete history_db_;
}

namespace {

Status open_db(const rocksdb::Options& options, const fs::path& directory, bool read_only,
               rocksdb::DB** db) {
  rocksdb::Status status;
  if (!read_only) {
    status = rocksdb::DB::Open(options, directory.string(), db);
  } else {
    // Beside a running engine, a compaction or flush may replace the manifest or remove a table
    // file between this open's read of one and its open of the other: a later attempt reads what
    // replaced them. Anything that persists is reported as it is.
    for (int attempt = 0; attempt < read_only_open_attempts; ++attempt) {
      status = rocksdb::DB::OpenForReadOnly(options, directory.string(), db);
      if (!status.IsIOError() && !status.IsPathNotFound() && !status.IsCorruption()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return from_rocksdb(status, fmt::format("open {}", directory.string()));
}

}  // namespace

Status Store::open(const fs::path& data_dir, bool read_only, std::unique_ptr<Store>* store) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  // Table files are handed to the disk a megabyte at a time as they are written. Left to the
  // fsync that ends a file, a flush's 128 MiB (or a checkpoint's ~100 MB) reached the device at
  // once, and the journal's fdatasync, the commit every client waits on, queued behind it.
  options.bytes_per_sync = table_bytes_per_sync;
  // Flushing (sorting a vector memtable and writing its table) is what bounds history ingest;
  // two flushes may run at once so a burst does not queue memtables behind one.
  options.max_background_flushes = 2;
  // Memtables of 128 MiB flush in about a second; six of them absorb bursts instead of stopping
  // writes while one flushes.
  options.write_buffer_size = 128ull << 20;
  options.max_write_buffer_number = 6;
  // History keys begin with the account, so every level-0 file spans the whole key range and each
  // compaction into level 1 rewrites all of it. Waiting for eight files instead of four halves
  // those rewrites (0.5 us of compaction CPU less per paid order at 12-12-6 scale 0.7); reads,
  // which are rare, search a few more files. The write limits rise with it.
  options.level0_file_num_compaction_trigger = 8;
  options.level0_slowdown_writes_trigger = 40;
  options.level0_stop_writes_trigger = 56;
  // Fresh history is written once and mostly read soon, if ever: the top levels stay
  // uncompressed (compressing them took a tenth of the ingest CPU); older levels are LZ4.
  options.compression_per_level = {rocksdb::kNoCompression, rocksdb::kNoCompression,
                                   rocksdb::kLZ4Compression, rocksdb::kLZ4Compression,
                                   rocksdb::kLZ4Compression, rocksdb::kLZ4Compression,
                                   rocksdb::kLZ4Compression};
  // Inserting into a skip list cost ~1 us per key (a cache miss per level); a vector memtable
  // appends and sorts once at flush, which is what a write-once history wants. Reads of the
  // not-yet-flushed part sort a copy, so statements cost more while it is large.
  options.memtable_factory.reset(new rocksdb::VectorRepFactory());
  options.allow_concurrent_memtable_write = false;
  // Compaction runs at the lowest CPU priority: on a peak it takes what the threads answering
  // clients leave, and catches up after. Flushes keep their priority, since a memtable that
  // cannot flush stops writes. Measured at scale 1.43 of 12-12-6: 58,582 paid/s against 49,941
  // (medians of 5 interleaved runs, docs/BENCHMARKS.md).
  options.env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW, rocksdb::CpuPriority::kLow);
  rocksdb::DB* history = nullptr;
  if (Status status = open_db(options, data_dir / "history", read_only, &history); !status.is_ok()) {
    return status;
  }
  // Checkpoints are few large values written once: RocksDB's defaults suit them, but for the
  // compression. Snappy was 90% of the checkpoint thread's CPU; LZ4 packs the records as small
  // (287 MB against 279 MB after a 20 s run at 12-12-6 scale 0.7; 930 MB uncompressed) for less:
  // the checkpoint threads and warmers took 4.02 µs per paid order against 4.30 (medians of six
  // interleaved runs of bench/load_cpu.sh).
  rocksdb::Options checkpoint_options;
  checkpoint_options.create_if_missing = true;
  checkpoint_options.compression = rocksdb::kLZ4Compression;
  checkpoint_options.bytes_per_sync = table_bytes_per_sync;
  rocksdb::DB* checkpoints = nullptr;
  if (Status status = open_db(checkpoint_options, data_dir / "checkpoints", read_only, &checkpoints);
      !status.is_ok()) {
    delete history;
    return status;
  }
  std::unique_ptr<Store> opened(new Store(history, checkpoints));
  std::string value;
  const auto read = history->Get(rocksdb::ReadOptions(), history_sequence_key, &value);
  if (read.ok()) {
    opened->history_sequence_ = decode<std::uint64_t>(value);
  } else if (!read.IsNotFound()) {
    return from_rocksdb(read, "read history sequence");
  }
  *store = std::move(opened);
  return Status::ok();
}

Status Store::write_history(std::uint64_t sequence, std::span<const ledger::HistoryEntry> entries) {
  history_lines_.clear();
  for (const ledger::HistoryEntry& entry : entries) {
    const ledger::Transfer& transfer = entry.transfer.transfer;
    history_lines_.push_back({transfer.debit_account_id, entry.timestamp, transfer.id,
                              {entry.expired, entry.debit_after}});
    history_lines_.push_back({transfer.credit_account_id, entry.timestamp, transfer.id,
                              {entry.expired, entry.credit_after}});
  }
  std::sort(history_lines_.begin(), history_lines_.end(),
            [](const Line& a, const Line& b) { return a.order() < b.order(); });
  rocksdb::WriteBatch batch(history_lines_.size() * (history_key_bytes + sizeof(StoredNextLine) + 8) + 64);
  for (auto group = history_lines_.begin(); group != history_lines_.end();) {
    const auto end = std::find_if(group, history_lines_.end(), [&](const Line& line) {
      return line.account_id != group->account_id;
    });
    history_group_.assign(reinterpret_cast<const char*>(&group->stored), sizeof(StoredLine));
    for (auto line = group + 1; line != end; ++line) {
      const StoredNextLine next{line->timestamp, line->transfer_id, line->stored};
      history_group_.append(reinterpret_cast<const char*>(&next), sizeof next);
    }
    batch.Put(HistoryKey(group->account_id, group->timestamp, group->transfer_id).slice(), history_group_);
    group = end;
  }
  batch.Put(history_sequence_key, slice_of(&sequence, 1));
  rocksdb::WriteOptions options;
  options.disableWAL = true;
  if (Status status = from_rocksdb(history_db_->Write(options, &batch), "write history");
      !status.is_ok()) {
    return status;
  }
  history_sequence_ = sequence;
  return Status::ok();
}

std::uint64_t Store::history_sequence() const { return history_sequence_; }

Status Store::statement(std::uint64_t account_id, std::uint64_t from_ns, std::uint64_t to_ns,
                        std::uint32_t limit, std::vector<StatementLine>* lines) const {
  lines->clear();
  if (from_ns >= to_ns || limit == 0) return Status::ok();
  const HistoryKey start(account_id, from_ns, 0);
  const HistoryKey end(account_id, to_ns, 0);
  rocksdb::ReadOptions options;
  const rocksdb::Slice upper = end.slice();
  options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(history_db_->NewIterator(options));
  // A group is keyed by its first line: one that starts before from_ns may hold lines after it.
  it->SeekForPrev(start.slice());
  if (!it->Valid() || account_of(it->key()) != account_id) it->Seek(start.slice());
  bool past_end = false;
  for (; it->Valid() && !past_end && lines->size() < limit; it->Next()) {
    const Status status = for_each_line(it->key(), it->value(), [&](const StatementLine& line) {
      if (line.timestamp < from_ns) return true;
      past_end = line.timestamp >= to_ns;
      if (past_end || lines->size() == limit) return false;
      lines->push_back(line);
      return true;
    });
    if (!status.is_ok()) return status;
  }
  return from_rocksdb(it->status(), "read statement");
}

Status Store::balance_as_of(std::uint64_t account_id, std::uint64_t at_ns,
                            StatementLine* line) const {
  const HistoryKey lower(account_id, 0, 0);
  rocksdb::ReadOptions options;
  const rocksdb::Slice lower_bound = lower.slice();
  options.iterate_lower_bound = &lower_bound;
  std::unique_ptr<rocksdb::Iterator> it(history_db_->NewIterator(options));
  // The group that starts last by at_ns: its last line by then is the account's.
  it->SeekForPrev(HistoryKey(account_id, at_ns, UINT64_MAX).slice());
  if (!it->Valid()) {
    if (Status status = from_rocksdb(it->status(), "read balance"); !status.is_ok()) return status;
    return Status::not_found(fmt::format("account {} had no balance change by {}", account_id, at_ns));
  }
  return for_each_line(it->key(), it->value(), [&](const StatementLine& next) {
    if (next.timestamp > at_ns) return false;
    *line = next;
    return true;
  });
}

void Store::prepare_checkpoint(
    PendingCheckpoint* checkpoint, const CheckpointMeta& meta, const ledger::AccountTable& accounts,
    const ledger::TransferTable& transfers, const ledger::Ledger::ChangedChunks& changed,
    CopyLater* later, const SaveModules& save_modules) {
  CAP_ASSERT(meta.accounts == accounts.size() && meta.transfers == transfers.size());
  // The earlier checkpoint's parts are freed before the save, not kept by key: most parts a save
  // takes are chunks new since then, and these allocations, of the same sizes, reuse that memory
  // instead of mapping fresh pages on the engine thread.
  std::map<std::string, std::string>& parts = checkpoint->changed_parts;
  parts.clear();
  checkpoint->payments = save_modules(&parts, later);
  // The ledger's chunks in any order: they are all the same size.
  std::vector<std::string> spare;
  spare.reserve(checkpoint->entries.size());
  for (auto& [key, bytes] : checkpoint->entries) spare.push_back(std::move(bytes));
  checkpoint->entries.clear();
  checkpoint->meta = meta;
  copy_chunks(&checkpoint->entries, &spare, 'a', accounts, changed.accounts, changed.account_copies, later);
  copy_chunks(&checkpoint->entries, &spare, 't', transfers, changed.transfers, changed.transfer_copies,
              later);
  checkpoint->entries[checkpoint_meta_key] = slice_of(&meta, 1).ToString();
  checkpoint->payments_added = false;
}

Status Store::write_checkpoint(PendingCheckpoint& checkpoint) {
  std::map<std::string, std::string>& entries = checkpoint.entries;
  // Once: a retry after a failed write finds it among the entries already.
  if (!checkpoint.payments_added) {
    const std::string& payments = checkpoint.payments;
    const std::uint64_t payments_bytes = payments.size();
    for (std::size_t start = 0, part = 0; start < payments.size();
         start += payments_part_bytes, ++part) {
      entries[chunk_key('p', static_cast<std::uint32_t>(part))] =
          payments.substr(start, std::min(payments_part_bytes, payments.size() - start));
    }
    entries[checkpoint_payments_key] = slice_of(&payments_bytes, 1).ToString();
    checkpoint.payments = {};
    checkpoint.payments_added = true;
  }
  if (Status status = from_rocksdb(history_db_->Flush(rocksdb::FlushOptions()), "flush history");
      !status.is_ok()) {
    return status;
  }
  // One table file, ingested: a write batch would copy every byte into one growing buffer, then
  // again into the WAL and the memtable, each time into fresh memory, seconds of CPU for a few
  // hundred megabytes; the file is written from the entries as they are. Ingesting is atomic, as
  // the batch was: the checkpoint is all there or not at all. The writer syncs the file when it
  // finishes and ingestion syncs the manifest.
  const std::string file = fmt::format("{}/checkpoint-{}.sst", checkpoint_db_->GetName(),
                                       checkpoint.meta.sequence);
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(checkpoint_db_->GetDBOptions()),
                                checkpoint_db_->GetOptions());
  rocksdb::Status written = writer.Open(file);
  // A table file takes its keys in order: the entries below the parts' prefix, the parts, the
  // rest (no entry key starts with the prefix).
  const auto parts_at = entries.lower_bound(checkpoint_part_prefix);
  for (auto it = entries.begin(); written.ok() && it != parts_at; ++it) {
    written = writer.Put(it->first, it->second);
  }
  for (auto it = checkpoint.changed_parts.begin(); written.ok() && it != checkpoint.changed_parts.end(); ++it) {
    written = writer.Put(checkpoint_part_prefix + it->first, it->second);
  }
  for (auto it = parts_at; written.ok() && it != entries.end(); ++it) {
    written = writer.Put(it->first, it->second);
  }
  if (written.ok()) written = writer.Finish();
  if (written.ok()) {
    rocksdb::IngestExternalFileOptions options;
    options.move_files = true;
    written = checkpoint_db_->IngestExternalFile({file}, options);
  }
  if (!written.ok()) {
    std::error_code ignored;
    fs::remove(file, ignored);
  }
  return from_rocksdb(written, "write checkpoint");
}

Status Store::read_checkpoint(Checkpoint* checkpoint) const {
  std::string value;
  const auto status = checkpoint_db_->Get(rocksdb::ReadOptions(), checkpoint_meta_key, &value);
  if (!status.ok()) return from_rocksdb(status, "no checkpoint");
  if (value.size() != sizeof(CheckpointMeta)) {
    return Status::corruption("checkpoint meta has the wrong size");
  }
  checkpoint->meta = decode<CheckpointMeta>(value);
  if (Status read = read_chunks(checkpoint_db_, 'a', checkpoint->meta.accounts, &checkpoint->accounts);
      !read.is_ok()) {
    return read;
  }
  if (Status read = read_chunks(checkpoint_db_, 't', checkpoint->meta.transfers, &checkpoint->transfers);
      !read.is_ok()) {
    return read;
  }
  checkpoint->parts.clear();
  std::unique_ptr<rocksdb::Iterator> it(checkpoint_db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(checkpoint_part_prefix); it->Valid() && it->key().starts_with(checkpoint_part_prefix); it->Next()) {
    checkpoint->parts.emplace(it->key().ToString().substr(checkpoint_part_prefix.size()), it->value().ToString());
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "checkpoint parts");
  checkpoint->payments.clear();
  const auto payments = checkpoint_db_->Get(rocksdb::ReadOptions(), checkpoint_payments_key, &value);
  if (payments.IsNotFound()) return Status::ok();
  if (!payments.ok()) return from_rocksdb(payments, "checkpoint payments state");
  if (value.size() != sizeof(std::uint64_t)) return Status::corruption("checkpoint payments size has the wrong size");
  const auto total = decode<std::uint64_t>(value);
  checkpoint->payments.reserve(total);
  // Parts past the size are a larger earlier checkpoint's, overwritten only as far as needed.
  for (std::uint32_t part = 0; checkpoint->payments.size() < total; ++part) {
    const auto status = checkpoint_db_->Get(rocksdb::ReadOptions(), chunk_key('p', part), &value);
    if (!status.ok()) return from_rocksdb(status, fmt::format("checkpoint payments part {}", part));
    if (value.size() != std::min<std::uint64_t>(payments_part_bytes, total - checkpoint->payments.size())) {
      return Status::corruption(fmt::format("checkpoint payments part {} has {} bytes", part, value.size()));
    }
    checkpoint->payments += value;
  }
  return Status::ok();
}

}  // namespace capillary::store
