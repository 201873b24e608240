#pragma once
// The journal's byte layout. The journal is the source of truth: every batch of commands is
// appended here and made durable before any of its results leave the process.
//
// data/journal/ holds segment files named `<first sequence, 20 digits>.seg`, each preallocated to
// journal_segment_bytes and filled with entries back to back from offset 0:
//
//   entry  := header (64 bytes) body (body_bytes, zero-padded to a multiple of 64)
//   header := header_checksum u64   XXH3 of header bytes [8, 64)
//             body_checksum   u64   XXH3 of the body's body_bytes
//             sequence        u64   batch number: 1, 2, 3, ... with no gap across segments
//             timestamp       u64   ns since epoch given to the batch's first event
//             state_hash      u64   ledger state hash BEFORE this batch; replay must match it
//             body_bytes      u32   event_count * event size of the kind
//             event_count     u32
//             kind            u16   EntryKind
//             version         u16   format_version
//             magic           u32   entry_magic
//             reserved        u64   zero
//
// Bytes after the last entry are zero (the file was preallocated), so the first all-zero header
// ends the segment. Sync order: the entry is written with pwrite and then fdatasync'd; only one
// entry is ever in flight, so after a crash at most the last entry can be torn. Recovery tells a
// torn tail (cut and carry on) from corruption (stop and name the file and offset) by looking for
// any valid header after the bad entry: a torn write can never be followed by one.

#include <cstdint>
#include <type_traits>

namespace capillary::journal {

enum class EntryKind : std::uint16_t {
  create_accounts = 1,   // body: ledger::AccountSpec[event_count]
  create_transfers = 2,  // body: ledger::Transfer[event_count]
  tick = 3,              // no body: only moves time on, so holds expire without traffic
  payments = 4,          // body: payments::Command[event_count]
};

// The smallest event of any kind (an AccountSpec); bounds events per byte of journal.
inline constexpr std::uint64_t smallest_event_bytes = 40;

inline constexpr std::uint32_t entry_magic = 0x4a504143;  // "CAPJ"
inline constexpr std::uint16_t format_version = 1;
inline constexpr std::uint64_t entry_alignment = 64;

struct EntryHeader {
  std::uint64_t header_checksum;
  std::uint64_t body_checksum;
  std::uint64_t sequence;
  std::uint64_t timestamp;
  std::uint64_t state_hash;
  std::uint32_t body_bytes;
  std::uint32_t event_count;
  EntryKind kind;
  std::uint16_t version;
  std::uint32_t magic;
  std::uint64_t reserved;
};
static_assert(sizeof(EntryHeader) == 64 && std::has_unique_object_representations_v<EntryHeader>);

inline constexpr std::uint64_t padded(std::uint64_t bytes) {
  return (bytes + entry_alignment - 1) / entry_alignment * entry_alignment;
}

inline constexpr std::uint64_t entry_bytes(const EntryHeader& header) {
  return sizeof(EntryHeader) + padded(header.body_bytes);
}

}  // namespace capillary::journal
