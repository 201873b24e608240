#pragma once
// Checksums and record hashes. XXH3 is used for both: it is fast enough to hash every record the
// state machine touches, and 64 bits are plenty to detect torn writes and bit flips.

#include <xxhash.h>

#include <cstddef>
#include <cstdint>

namespace capillary {

inline std::uint64_t checksum(const void* data, std::size_t size) noexcept {
  return XXH3_64bits(data, size);
}

inline std::uint64_t checksum(const void* data, std::size_t size, std::uint64_t seed) noexcept {
  return XXH3_64bits_withSeed(data, size, seed);
}

template <typename Record>
std::uint64_t record_hash(const Record& record) noexcept {
  return XXH3_64bits(&record, sizeof(Record));
}

}  // namespace capillary
