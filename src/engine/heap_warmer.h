#pragma once
// Memory the engine thread is about to allocate, made resident ahead of time on another thread.
//
// A checkpoint copies the changed chunks of the ledger and payments tables on the engine thread,
// a step at a time between batches (core/chunk_copies.h), into strings from malloc. Copied into memory the process has never touched,
// each page costs a fault (tens of microseconds on virtual machines with shadow page tables): the
// first checkpoint of a 12-12-6 run at scale 1 took ~33,000 of them, a second with no payments
// answered. Later checkpoints free the earlier one's copies first and reuse that memory; what is
// more than that is warmed here. Halfway to a checkpoint the engine allocates blocks for it
// (malloc maps them and touches nothing), a thread of their own makes them resident, and right
// before the checkpoint is taken the engine frees them into its heap, where the copies'
// allocations find them resident. The blocks are smaller than the mmap threshold (main.cc), so they come from and
// go back to the heap rather than being unmapped.

#include <cstddef>
#include <cstdlib>
#include <future>
#include <new>
#include <vector>

#include "core/resident.h"
#include "core/this_thread.h"

namespace capillary::engine {

class HeapWarmer {
 public:
  HeapWarmer() = default;
  HeapWarmer(const HeapWarmer&) = delete;
  HeapWarmer& operator=(const HeapWarmer&) = delete;
  ~HeapWarmer() { release(); }

  // Starts making about `bytes` resident, in blocks; nothing when blocks are out already.
  void warm(std::size_t bytes) {
    if (!blocks_.empty() || bytes == 0) return;
    for (std::size_t warmed = 0; warmed < bytes; warmed += block_bytes) {
      auto* block = static_cast<char*>(std::malloc(block_bytes));
      if (block == nullptr) break;  // the copies will find out for themselves
      blocks_.push_back(block);
    }
    touching_ = std::async(std::launch::async, [blocks = blocks_] {
      name_this_thread("heap-warmer");
      // Started halfway to a checkpoint, seconds before the copy needs it: it yields to the
      // threads answering clients.
      lower_this_thread_priority(10);
      for (char* block : blocks) make_resident(block, block_bytes);
    });
  }

  // Waits for the warming thread and frees the blocks into the heap, for what is allocated next.
  void release() noexcept {
    if (touching_.valid()) touching_.wait();
    for (char* block : blocks_) std::free(block);
    blocks_.clear();
  }

  std::size_t bytes() const noexcept { return blocks_.size() * block_bytes; }

 private:
  static constexpr std::size_t block_bytes = std::size_t{8} << 20;

  std::vector<char*> blocks_;
  std::future<void> touching_;
};

}  // namespace capillary::engine
