#pragma once
// A checkpoint's copies of table chunks, made a few at a time between batches instead of all in
// one pause of the engine thread.
//
// A checkpoint must hold every table as it was at one sequence. Copying all the chunks changed
// since the last one at that point paused the engine 31-64 ms every few seconds at 12-12-6 (a
// few hundred megabytes: buyers' wallets are touched at random, so every chunk of accounts
// changes), which every client waiting on a batch felt. Here taking a chunk only records where
// it is and where its copy goes; the engine then copies a step's worth between batches
// (CopyLater::copy_some), and a table about to write into a chunk not copied yet copies that one
// first (ChunkCopies::before_write). Chunks never move (core/chunked.h), and nothing writes a
// taken chunk before it is copied, so every copy is of the chunk as it was when taken.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/assert.h"

namespace capillary {

class CopyLater;

// One table's chunks taken and not yet copied. Engine thread only.
class ChunkCopies {
 public:
  ChunkCopies() = default;
  ChunkCopies(const ChunkCopies&) = delete;
  ChunkCopies& operator=(const ChunkCopies&) = delete;

  // Chunk `chunk`'s `bytes` at `from`, as they are now, go into `*into`: at once when `later` is
  // null, else by later->copy_some or before the chunk is next written, whichever comes first.
  // `*into` must stay where it is until then.
  void take(CopyLater* later, std::uint32_t chunk, const void* from, std::size_t bytes,
            std::string* into);

  // Called before any write into `chunk`.
  void before_write(std::uint32_t chunk) {
    if (chunk < pending_of_.size() && pending_of_[chunk] != 0) copy(pending_of_[chunk] - 1);
  }

  std::size_t waiting() const noexcept { return waiting_; }

 private:
  friend class CopyLater;

  struct Pending {
    const void* from;
    std::size_t bytes;
    std::string* into;
    std::uint32_t chunk;
  };

  void copy(std::size_t at) {
    Pending& pending = pending_[at];
    CAP_ASSERT(pending.into != nullptr && waiting_ > 0);
    pending.into->assign(static_cast<const char*>(pending.from), pending.bytes);
    pending.into = nullptr;
    pending_of_[pending.chunk] = 0;
    --waiting_;
  }

  // Copies the chunks still waiting, in the order taken, until `budget` bytes are copied;
  // returns the bytes copied.
  std::size_t copy_some(std::size_t budget) {
    std::size_t copied = 0;
    for (; next_ < pending_.size() && copied < budget; ++next_) {
      if (pending_[next_].into == nullptr) continue;  // copied before a write
      copied += pending_[next_].bytes;
      copy(next_);
    }
    return copied;
  }

  std::vector<Pending> pending_;                // in the order taken
  std::vector<std::uint32_t> pending_of_;       // per chunk: 1 + its index in pending_, 0 if none
  std::size_t next_ = 0;                        // pending_ before this are copied
  std::size_t waiting_ = 0;
  bool queued_ = false;  // in a CopyLater's tables
};

// The tables with chunks waiting to be copied for the checkpoint being taken. Engine thread only.
class CopyLater {
 public:
  CopyLater() = default;
  CopyLater(const CopyLater&) = delete;
  CopyLater& operator=(const CopyLater&) = delete;

  // Copies waiting chunks, table by table, until about `budget` bytes are copied (a chunk is
  // never split); true when none is left waiting.
  bool copy_some(std::size_t budget) {
    std::size_t copied = 0;
    while (!tables_.empty() && copied < budget) {
      ChunkCopies& table = *tables_.back();
      copied += table.copy_some(budget - copied);
      if (table.waiting() == 0) {
        table.queued_ = false;
        tables_.pop_back();
      }
    }
    return tables_.empty();
  }
  void copy_all() { copy_some(std::numeric_limits<std::size_t>::max()); }
  bool done() const noexcept { return tables_.empty(); }

 private:
  friend class ChunkCopies;
  std::vector<ChunkCopies*> tables_;  // each once, until none of its chunks is waiting
};

inline void ChunkCopies::take(CopyLater* later, std::uint32_t chunk, const void* from,
                              std::size_t bytes, std::string* into) {
  if (later == nullptr) {
    into->assign(static_cast<const char*>(from), bytes);
    return;
  }
  if (waiting_ == 0) {  // all copied: by copy_some, or each before a write
    pending_.clear();
    next_ = 0;
  }
  if (chunk >= pending_of_.size()) pending_of_.resize(chunk + 1, 0);
  CAP_ASSERT(pending_of_[chunk] == 0);  // a chunk is taken once a checkpoint
  if (!queued_) {
    later->tables_.push_back(this);
    queued_ = true;
  }
  pending_.push_back({from, bytes, into, chunk});
  pending_of_[chunk] = static_cast<std::uint32_t>(pending_.size());
  ++waiting_;
}

}  // namespace capillary
