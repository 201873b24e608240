#pragma once
// Applying one journal entry to the state: the single code path shared by the live engine,
// recovery and verify, so a replay cannot drift from what was first applied.

#include <span>
#include <vector>

#include "core/status.h"
#include "engine/state.h"
#include "journal/format.h"

namespace capillary::engine {

// Scratch space reused from entry to entry so replay does not allocate per batch.
struct ReplayBuffers {
  std::vector<ledger::AccountSpec> accounts;
  std::vector<ledger::Transfer> transfers;
  std::vector<payments::Command> commands;
  std::vector<ledger::CreateAccountResult> account_results;
  std::vector<ledger::CreateTransferResult> transfer_results;
  std::vector<payments::Outcome> outcomes;
};

// Applies a batch whose events are already in `buffers` (by kind): first what the batch's
// timestamp made due (holds that expire, then product deadlines such as auto-confirmations), then
// the events, results into `buffers`. Every balance change gets its own timestamp, counting up
// from the batch's. Returns the last timestamp used (the batch's timestamp when nothing changed).
std::uint64_t apply_batch(State& state, const journal::EntryHeader& header,
                          ReplayBuffers& buffers) noexcept;

// Checks the entry's recorded state hash against the state, then applies the entry;
// `last_timestamp` gets apply_batch's result. A mismatch or a malformed body is corruption: the
// journal does not describe this state.
Status replay_entry(State& state, const journal::EntryHeader& header,
                    std::span<const std::byte> body, ReplayBuffers& buffers,
                    std::uint64_t* last_timestamp);

}  // namespace capillary::engine
