#pragma once
// Memory made resident before the thread that needs it writes there.
//
// A fresh page costs a fault on its first write: ~11 us on virtual machines with shadow page
// tables, 750 ms for 256 MiB touched a page at a time. MADV_POPULATE_WRITE (Linux 5.14) maps the
// same pages in one call for about a fifteenth of that (50 ms for 256 MiB here), so the helper
// threads that map memory ahead of the engine spend a fifteenth of the CPU they took, CPU the
// threads answering clients share on a busy machine.

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

namespace capillary {

// Makes [memory, memory + bytes) resident, writing to it: the bytes' contents are undefined
// after, as malloc's are. Older kernels get a write a page.
inline void make_resident(void* memory, std::size_t bytes) {
  constexpr std::uintptr_t page = 4096;
  char* const begin = static_cast<char*>(memory);
  char* const end = begin + bytes;
  auto* const first = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(begin) + page - 1) & ~(page - 1));
  auto* const last = reinterpret_cast<char*>(reinterpret_cast<std::uintptr_t>(end) & ~(page - 1));
  if (first < last && ::madvise(first, static_cast<std::size_t>(last - first), MADV_POPULATE_WRITE) == 0) {
    // The partial pages at either end.
    if (begin < first) *begin = 0;
    if (last < end) *last = 0;
    return;
  }
  for (char* at = begin; at < end; at += page) *at = 0;
  if (bytes > 0) end[-1] = 0;
}

}  // namespace capillary
