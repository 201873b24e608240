#pragma once
// Prefetching across a batch known up front. With millions of records nearly every index lookup
// and record read misses the cache; a loop that knows its next events asks for their memory early,
// in two stages: the index entries of the event `index_distance` ahead, then, once those have had
// time to arrive, the records of the event `record_distance` ahead (finding them reads the index
// entries, now cached). By the time the loop reaches an event its memory is on the way or there.
// Prefetching changes no result, only timing.

#include <cstddef>
#include <span>

namespace capillary {

inline constexpr std::size_t prefetch_index_distance = 16;
inline constexpr std::size_t prefetch_record_distance = 8;

// Called before handling batch[i]: `indexes` and `records` hint the memory of the event given.
template <typename Event, typename Indexes, typename Records>
void prefetch_ahead(std::span<const Event> batch, std::size_t i, Indexes indexes, Records records) {
  if (i + prefetch_index_distance < batch.size()) indexes(batch[i + prefetch_index_distance]);
  if (i + prefetch_record_distance < batch.size()) records(batch[i + prefetch_record_distance]);
}

}  // namespace capillary
