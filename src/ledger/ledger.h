#pragma once
// The ledger state machine: accounts and transfers with double entry, balance constraints,
// two-phase holds and linked chains. It is deterministic and single-threaded: the same events at
// the same timestamps always produce the same results, balances and state hash. It never does I/O;
// the engine journals events before their results leave the process.
//
// Invariants, checked by check_invariants() and asserted where the arithmetic happens:
// - per ledger, the sum of posted debits equals the sum of posted credits, and the same for pending;
// - every account honours its balance constraint;
// - each account's pending totals equal the sum of its holds still pending;
// - state_hash() equals the hash recomputed from every record.

#include <cstdint>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <vector>

#include "core/chunk_copies.h"
#include "core/growing_index.h"
#include "ledger/result.h"
#include "ledger/types.h"

namespace capillary::ledger {

class Ledger {
 public:
  // Sizes the indexes for this many records up front, so a cell of known size never grows them
  // while applying a batch. Records sit in chunks that never move (core/chunked.h), so the tables
  // themselves never reallocate.
  explicit Ledger(std::uint32_t accounts_reserve = 0, std::uint32_t transfers_reserve = 0);
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Applies a batch in order. Event i is stamped `first_timestamp + i`; timestamps must increase
  // from batch to batch. `results` has one slot per event.
  void create_accounts(std::span<const AccountSpec> events, std::uint64_t first_timestamp,
                       std::span<CreateAccountResult> results) noexcept;
  void create_transfers(std::span<const Transfer> events, std::uint64_t first_timestamp,
                        std::span<CreateTransferResult> results) noexcept;

  // Releases every hold whose timeout falls at or before `now`; returns how many it released.
  // The k-th release is stamped `now + k`, so a caller stamps its next event after them.
  // The engine calls it at the start of each batch with the batch's timestamp. A post or void
  // stamped at or after a hold's deadline gets pending_transfer_expired even before it runs.
  std::uint32_t expire(std::uint64_t now) noexcept;
  // When the next hold will expire, if any is pending with a timeout.
  std::optional<std::uint64_t> next_expiry() noexcept;

  // Lookups return nullptr on a miss. Pointers are valid until the next mutating call.
  const Account* find_account(std::uint64_t id) const noexcept;
  const TransferRecord* find_transfer(std::uint64_t id) const noexcept;

  const AccountTable& accounts() const noexcept { return accounts_; }
  const TransferTable& transfers() const noexcept { return transfers_; }
  std::uint64_t state_hash() const noexcept { return state_hash_; }

  // When set, every balance change appends one entry here (for the history store); the ledger
  // only appends, the caller drains it between batches.
  void set_history_sink(std::vector<HistoryEntry>* sink) noexcept { history_ = sink; }

  // Sizes the transfer index for this many more transfers, so a replay of known length never
  // grows it.
  void reserve_transfers(std::size_t more);

  // Chunks (of checkpoint_chunk_records records) of each table changed since the last call, for
  // an incremental checkpoint; the marks are cleared. Conservative: a chunk touched by a chain
  // that was rolled back is listed too. A checkpoint that copies them later takes them into
  // the tables' copies (core/chunk_copies.h), so a write into one copies it first.
  struct ChangedChunks {
    std::vector<std::uint32_t> accounts;
    std::vector<std::uint32_t> transfers;
    ChunkCopies* account_copies = nullptr;
    ChunkCopies* transfer_copies = nullptr;
  };
  ChangedChunks take_changed_chunks();
  // What the chunks changed so far would take to copy.
  std::size_t changed_bytes() const noexcept;

  // Replaces the whole state with records from a checkpoint and rebuilds the indexes; nothing
  // counts as changed afterwards.
  void restore(std::vector<Account> accounts, std::vector<TransferRecord> transfers);

  // Recomputes every invariant from the records alone. Empty when all hold, else the first broken
  // one, described for an operator.
  std::string check_invariants() const;

 private:
  struct Undo {
    enum class Kind : std::uint8_t { account_changed, account_created, transfer_created,
                                     transfer_status_changed };
    Kind kind;
    std::uint32_t slot;
    PendingStatus status;
    Account account;
  };
  struct Expiry {
    std::uint64_t expires_at;
    std::uint64_t transfer_id;
    std::uint32_t slot;
    bool operator>(const Expiry& other) const { return expires_at > other.expires_at; }
  };

  void prefetch(std::span<const Transfer> events, std::size_t i) const noexcept;
  CreateAccountResult create_account(const AccountSpec& spec, std::uint64_t timestamp) noexcept;
  CreateTransferResult create_transfer(const Transfer& transfer, std::uint64_t timestamp) noexcept;
  CreateTransferResult settle_pending(const Transfer& transfer, std::uint64_t timestamp) noexcept;
  void insert_transfer(const Transfer& transfer, std::uint64_t timestamp, PendingStatus status);
  std::uint32_t account_slot(std::uint64_t id) const noexcept;
  void release_hold(std::uint32_t slot, PendingStatus outcome, std::int64_t posted_amount) noexcept;

  Account& modify_account(std::uint32_t slot) noexcept;
  void finish_account_change(std::uint32_t slot) noexcept;
  void set_status(std::uint32_t slot, PendingStatus status) noexcept;
  void record_history(const TransferRecord& record, std::uint32_t debit_slot,
                      std::uint32_t credit_slot, std::uint64_t timestamp, bool expired);

  void open_scope() noexcept;
  void close_scope() noexcept;
  void rollback_scope() noexcept;

  AccountTable accounts_;
  TransferTable transfers_;
  GrowingIndex<std::uint64_t> account_slots_;
  GrowingIndex<std::uint64_t> transfer_slots_;
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<Expiry>> expiries_;
  std::uint64_t state_hash_ = 0;
  std::vector<HistoryEntry>* history_ = nullptr;
  std::vector<std::uint8_t> account_chunk_changed_, transfer_chunk_changed_;
  ChunkCopies account_copies_, transfer_copies_;

  // A linked chain is applied inside a scope: every change is logged so a failing event can undo
  // the chain's earlier events. Outside a chain nothing is logged.
  bool in_scope_ = false;
  std::vector<Undo> undo_;
  std::uint64_t scope_state_hash_ = 0;
  std::size_t scope_history_size_ = 0;
};

// Expiry time of a hold, or 0 when it has no timeout.
std::uint64_t expires_at(const TransferRecord& record) noexcept;

}  // namespace capillary::ledger
