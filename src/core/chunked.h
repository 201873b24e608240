#pragma once
// An append-only sequence of fixed-size records kept in chunks that never move.
//
// A std::vector that doubles copies every record it holds into fresh memory: at ten million
// 80-byte transfers that is a gigabyte copied and a quarter of a million page faults, all on the
// engine thread in the middle of one append, which every client waiting on that batch feels.
// Here growing allocates one more chunk and copies nothing, an address stays valid for the
// record's life, and a run of records inside one chunk is contiguous, so a checkpoint can write
// it as it is.
//
// Mapping a fresh page is what growth costs: a fault a page, ~18 us on virtual machines with
// shadow page tables, ~50 ms for a 10 MiB chunk. So once a table has a second chunk, the next one
// is allocated and its pages mapped on a thread of its own (core/resident.h) while the current
// one fills, and the appends that cross into it find it ready. Huge pages were tried instead and measured slower:
// the first touch of each 2 MiB page zeroes it inside one fault.

#include <bit>
#include <cstddef>
#include <cstdlib>
#include <future>
#include <iterator>
#include <memory>
#include <new>
#include <span>
#include <type_traits>
#include <vector>

#include "core/assert.h"
#include "core/resident.h"
#include "core/this_thread.h"

namespace capillary {

namespace chunked_detail {

struct Free {
  void operator()(void* memory) const noexcept { std::free(memory); }
};

inline void* allocate(std::size_t bytes) {
  void* memory = std::malloc(bytes);
  if (memory == nullptr) throw std::bad_alloc();
  return memory;
}

// `bytes` resident, so no page faults when records are written there.
inline void* allocate_mapped(std::size_t bytes) {
  name_this_thread("chunk-mapper");
  // Yields to the threads answering clients, but only a little: it must be done before the chunk
  // being filled now is full.
  lower_this_thread_priority(5);
  void* memory = allocate(bytes);
  make_resident(memory, bytes);
  return memory;
}

}  // namespace chunked_detail

template <typename T, std::size_t ChunkRecords>
class Chunked {
  static_assert(std::is_trivially_copyable_v<T>);
  static_assert(std::has_single_bit(ChunkRecords));

 public:
  static constexpr std::size_t chunk_records = ChunkRecords;

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = const T*;
    using reference = const T&;

    const_iterator() = default;
    const_iterator(const Chunked* owner, std::size_t index) : owner_(owner), index_(index) {}
    reference operator*() const noexcept { return (*owner_)[index_]; }
    pointer operator->() const noexcept { return &(*owner_)[index_]; }
    const_iterator& operator++() noexcept {
      ++index_;
      return *this;
    }
    const_iterator operator++(int) noexcept {
      const_iterator before = *this;
      ++index_;
      return before;
    }
    bool operator==(const const_iterator& other) const noexcept { return index_ == other.index_; }

   private:
    const Chunked* owner_ = nullptr;
    std::size_t index_ = 0;
  };

  Chunked() = default;
  Chunked(const Chunked&) = delete;
  Chunked& operator=(const Chunked&) = delete;
  ~Chunked() {
    if (next_.valid()) std::free(next_.get());
  }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  T& operator[](std::size_t index) noexcept {
    return chunks_[index / ChunkRecords][index % ChunkRecords];
  }
  const T& operator[](std::size_t index) const noexcept {
    return chunks_[index / ChunkRecords][index % ChunkRecords];
  }
  T& back() noexcept { return (*this)[size_ - 1]; }
  const T& back() const noexcept { return (*this)[size_ - 1]; }

  const_iterator begin() const noexcept { return {this, 0}; }
  const_iterator end() const noexcept { return {this, size_}; }

  void push_back(const T& record) {
    if (size_ == chunks_.size() * ChunkRecords) add_chunk();
    (*this)[size_] = record;
    ++size_;
  }
  // The last record goes; its chunk stays for the next append.
  void pop_back() noexcept {
    CAP_ASSERT(size_ > 0);
    --size_;
  }
  // `count` records with undefined contents, for a caller about to overwrite them all.
  void resize_for_overwrite(std::size_t count) {
    clear();
    while (chunks_.size() * ChunkRecords < count) add_chunk();
    size_ = count;
  }
  void clear() noexcept {
    chunks_.clear();
    size_ = 0;
  }

  // Records [first, first + count), which must lie in one chunk: contiguous in memory.
  std::span<const T> run(std::size_t first, std::size_t count) const noexcept {
    CAP_ASSERT(first + count <= size_);
    if (count == 0) return {};
    CAP_ASSERT(first / ChunkRecords == (first + count - 1) / ChunkRecords);
    return {&(*this)[first], count};
  }
  std::span<T> run(std::size_t first, std::size_t count) noexcept {
    CAP_ASSERT(first + count <= size_);
    if (count == 0) return {};
    CAP_ASSERT(first / ChunkRecords == (first + count - 1) / ChunkRecords);
    return {&(*this)[first], count};
  }

 private:
  // Uninitialised. The first two chunks' pages are mapped as records are written; later chunks
  // come mapped from next_.
  void add_chunk() {
    constexpr std::size_t bytes = ChunkRecords * sizeof(T);
    void* memory = next_.valid() ? next_.get() : chunked_detail::allocate(bytes);
    chunks_.emplace_back(static_cast<T*>(memory));
    if (chunks_.size() >= 2) next_ = std::async(std::launch::async, chunked_detail::allocate_mapped, bytes);
  }

  std::vector<std::unique_ptr<T[], chunked_detail::Free>> chunks_;
  std::size_t size_ = 0;
  std::future<void*> next_;  // the chunk after the last, being mapped (see the top of the file)
};

}  // namespace capillary
