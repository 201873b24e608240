#pragma once
// Memory for a growing index's tables, mapped ahead of need on a thread of its own.
//
// A new hash table is filled at random slots, so nearly every insert into a fresh one lands on a
// page never touched and takes a fault: at tens of microseconds a fault on virtual machines with
// shadow page tables, the engine thread spent whole seconds in the kernel each time an index of
// millions grew. Here, once an index has grown into a table of its own mapping, the region for
// the next table (twice the size) is mapped and its pages populated by a background thread while
// the current table fills, and the growth that comes later finds every page already there.
//
// Populating uses MADV_POPULATE_WRITE, which maps pages without writing to them, so the table
// may be handed out while its region is still being populated: the engine writes its slots, the
// populating thread stops at its next step, and no byte the table holds is ever written twice.
// Kernels without it (before 5.14) leave the table to fault its pages in as it fills.
//
// Tables are allocated and freed from more than one thread (a growing index builds its next
// table, and frees the last, on threads of their own): the bookkeeping is under a mutex, the
// mapping and unmapping outside it.

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include "core/assert.h"
#include "core/this_thread.h"

namespace capillary {

class IndexMemory {
 public:
  // Tables smaller than this come from malloc: a few hundred pages fault in well under a
  // millisecond, and mapping each would waste the rest of its last page.
  static constexpr std::size_t mapped_min = std::size_t{1} << 20;

  IndexMemory() = default;
  IndexMemory(const IndexMemory&) = delete;
  IndexMemory& operator=(const IndexMemory&) = delete;
  ~IndexMemory() {
    CAP_ASSERT(live_.empty());
    if (ahead_.base != nullptr) unmap(std::move(ahead_));
  }

  void* allocate(std::size_t bytes) {
    if (bytes < mapped_min) {
      void* memory = std::malloc(bytes);
      if (memory == nullptr) throw std::bad_alloc();
      return memory;
    }
    std::unique_lock lock(mutex_);
    largest_bytes_ = std::max(largest_bytes_, bytes);
    Region region;
    // The region mapped ahead, when it fits and this is the table it was meant for (not a much
    // smaller one, after a reset).
    if (ahead_.base != nullptr && bytes <= ahead_.bytes && 2 * bytes > ahead_.bytes) {
      region = std::move(ahead_);
      ahead_ = Region{};
      ++tables_mapped_ahead_;
      region.stop->store(true, std::memory_order_relaxed);
    } else {
      lock.unlock();
      region = map(bytes);
      lock.lock();
    }
    void* const base = region.base;
    live_.push_back(std::move(region));
    return base;
  }

  void deallocate(void* memory, std::size_t bytes) noexcept {
    if (bytes < mapped_min) return std::free(memory);
    Region region;
    {
      std::lock_guard lock(mutex_);
      const auto found = std::find_if(live_.begin(), live_.end(),
                                      [&](const Region& live) { return live.base == memory; });
      CAP_ASSERT(found != live_.end());
      region = std::move(*found);
      live_.erase(found);
      if (region.bytes >= largest_bytes_) {
        largest_bytes_ = 0;
        for (const Region& live : live_) largest_bytes_ = std::max(largest_bytes_, live.bytes);
      }
    }
    unmap(std::move(region));
  }

  // Starts mapping the region the table after the largest one live will want: twice as many
  // slots, and a page more for the control bytes' rounding. Nothing to do for small tables, or
  // when a region that large is mapped already.
  void prepare_next() {
    Region dropped;
    {
      std::lock_guard lock(mutex_);
      const std::size_t bytes = 2 * largest_bytes_ + page;
      if (bytes < mapped_min || (ahead_.base != nullptr && ahead_.bytes >= bytes)) return;
      dropped = std::move(ahead_);
      ahead_ = map(bytes);
      ahead_.populating = std::async(std::launch::async, populate, static_cast<char*>(ahead_.base),
                                     bytes, ahead_.stop);
    }
    if (dropped.base != nullptr) unmap(std::move(dropped));
  }

  // Bytes mapped ahead for the next table; 0 when there is none.
  std::size_t ahead_bytes() const noexcept {
    std::lock_guard lock(mutex_);
    return ahead_.base == nullptr ? 0 : ahead_.bytes;
  }
  // Tables that went into a region mapped ahead.
  std::size_t tables_mapped_ahead() const noexcept {
    std::lock_guard lock(mutex_);
    return tables_mapped_ahead_;
  }

 private:
  static constexpr std::size_t page = 4096;
  // Pages populated per call: small enough that a stop request is seen within a millisecond or
  // two, large enough that the calls cost nothing next to the faults.
  static constexpr std::size_t populate_step = std::size_t{1} << 20;

  struct Region {
    void* base = nullptr;
    std::size_t bytes = 0;
    std::shared_ptr<std::atomic<bool>> stop = std::make_shared<std::atomic<bool>>(false);
    std::future<void> populating;
  };

  static Region map(std::size_t bytes) {
    Region region;
    region.bytes = (bytes + page - 1) / page * page;
    region.base = ::mmap(nullptr, region.bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region.base == MAP_FAILED) throw std::bad_alloc();
    return region;
  }

  // The populating thread waits behind every thread that serves clients: it only has to finish
  // before the index next grows, seconds away.
  static void populate(char* base, std::size_t bytes, std::shared_ptr<std::atomic<bool>> stop) {
    name_this_thread("index-populate");
    lower_this_thread_priority(19);
    for (std::size_t at = 0; at < bytes && !stop->load(std::memory_order_relaxed); at += populate_step) {
      if (::madvise(base + at, std::min(populate_step, bytes - at), MADV_POPULATE_WRITE) != 0) return;
    }
  }

  static void unmap(Region region) noexcept {
    region.stop->store(true, std::memory_order_relaxed);
    if (region.populating.valid()) region.populating.wait();
    ::munmap(region.base, region.bytes);
  }

  mutable std::mutex mutex_;
  Region ahead_;
  std::vector<Region> live_;  // mapped regions holding tables: the current one, and others while growing
  std::size_t largest_bytes_ = 0;  // the largest region in live_
  std::size_t tables_mapped_ahead_ = 0;
};

// The allocator a growing index hands its tables: every copy allocates from the same memory.
template <typename T>
struct IndexAllocator {
  using value_type = T;
  using propagate_on_container_copy_assignment = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;

  explicit IndexAllocator(IndexMemory* memory) noexcept : memory(memory) {}
  template <typename U>
  IndexAllocator(const IndexAllocator<U>& other) noexcept : memory(other.memory) {}

  T* allocate(std::size_t n) { return static_cast<T*>(memory->allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { memory->deallocate(p, n * sizeof(T)); }

  template <typename U>
  bool operator==(const IndexAllocator<U>& other) const noexcept {
    return memory == other.memory;
  }

  IndexMemory* memory;
};

}  // namespace capillary
