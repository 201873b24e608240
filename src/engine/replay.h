#pragma once
// Applying one journal entry to a ledger: the single code path shared by the live engine,
// recovery and verify, so a replay cannot drift from what was first applied.

#include <span>
#include <vector>

#include "core/status.h"
#include "journal/format.h"
#include "ledger/ledger.h"

namespace capillary::engine {

// Scratch space reused from entry to entry so replay does not allocate per batch.
struct ReplayBuffers {
  std::vector<ledger::AccountSpec> accounts;
  std::vector<ledger::Transfer> transfers;
  std::vector<ledger::CreateAccountResult> account_results;
  std::vector<ledger::CreateTransferResult> transfer_results;
};

// Applies a batch whose events are already in `buffers` (accounts or transfers, by kind): releases
// due holds at the batch's timestamp, then applies the events, results into `buffers`. Every
// balance change gets its own timestamp: the k-th release `timestamp + k`, then the events. Returns
// the last timestamp used (the batch's timestamp when nothing changed).
std::uint64_t apply_batch(ledger::Ledger& ledger, const journal::EntryHeader& header,
                          ReplayBuffers& buffers) noexcept;

// Checks the entry's recorded state hash against the ledger, then expires due holds and applies
// the entry's events; `last_timestamp` gets apply_batch's result. A mismatch or a malformed body
// is corruption: the journal does not describe this state.
Status replay_entry(ledger::Ledger& ledger, const journal::EntryHeader& header,
                    std::span<const std::byte> body, ReplayBuffers& buffers,
                    std::uint64_t* last_timestamp);

}  // namespace capillary::engine
