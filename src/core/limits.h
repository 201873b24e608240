#pragma once
// Every limit of the engine, in one place, with the reason for its value.

#include <cstddef>
#include <cstdint>

namespace capillary {

// Events in one journal entry. A batch this size keeps one fdatasync amortised over thousands of
// transfers while its entry (64 B per transfer, ~512 KiB) still fits comfortably in the page cache
// and a 64 MiB segment holds over a hundred of them.
inline constexpr std::size_t batch_events_max = 8190;

// Batches applied whose journal entries are not yet durable: the one being written and synced,
// and the one the engine applied meanwhile. The format has one entry in flight to the disk at a
// time; a third batch would only queue behind the second as one more small entry with a sync of
// its own, where waiting lets what arrives meanwhile join the next, larger batch.
inline constexpr std::size_t journal_entries_in_flight_max = 2;

// Size of one journal segment file. Preallocated, so appends never extend the file's metadata.
inline constexpr std::uint64_t journal_segment_bytes = 64ull << 20;

// Accounts one cell holds. Slots are 32-bit indexes into flat arrays; the cap leaves headroom
// below 2^32 and bounds resident memory (80 B per account plus its index entry).
inline constexpr std::uint32_t accounts_max = 1u << 28;

// Transfers one cell keeps resident (80 B each plus their index entry). Older history is served
// from the history store; the cap is what bounds memory until cold transfers are evicted.
inline constexpr std::uint32_t transfers_max = 1u << 30;

// Requests and events waiting for the sequencer. Past either, submitters get `overloaded` instead
// of queueing without bound. 64 full batches is ~0.5 s of work at 1M transfers/s and 32 MiB of
// events: enough to keep the engine busy through a burst, little enough that a client told to
// retry has not been waiting long.
inline constexpr std::size_t sequencer_queue_requests_max = 16384;
inline constexpr std::size_t sequencer_queue_events_max = 64 * batch_events_max;

// Records per checkpoint chunk: one RocksDB value of 320 KiB. A checkpoint rewrites only the
// chunks that changed since the previous one, so smaller chunks mean less rewriting under sparse
// change and more keys under dense change.
inline constexpr std::uint32_t checkpoint_chunk_records = 4096;

// Statement page size a client can ask for.
inline constexpr std::uint32_t statement_page_max = 1000;

static_assert(batch_events_max * 64 + 64 < journal_segment_bytes / 64,
              "a full batch must be a small fraction of a segment");

}  // namespace capillary
