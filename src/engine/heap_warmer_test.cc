#include "engine/heap_warmer.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

namespace capillary::engine {
namespace {

// Warming hands out whole blocks for at least what was asked, once until released; the memory
// freed by release is the process's to allocate again, whole and writable.
TEST(HeapWarmer, WarmsOnceUntilReleased) {
  HeapWarmer warmer;
  warmer.warm(20 << 20);
  const std::size_t warmed = warmer.bytes();
  EXPECT_GE(warmed, std::size_t{20} << 20);
  EXPECT_LT(warmed, std::size_t{40} << 20);
  warmer.warm(100 << 20);  // blocks are out: nothing more
  EXPECT_EQ(warmer.bytes(), warmed);
  warmer.release();
  EXPECT_EQ(warmer.bytes(), 0u);
  auto* reused = static_cast<char*>(std::malloc(10 << 20));
  ASSERT_NE(reused, nullptr);
  std::memset(reused, 7, 10 << 20);
  EXPECT_EQ(reused[(10 << 20) - 1], 7);
  std::free(reused);
  warmer.warm(0);
  EXPECT_EQ(warmer.bytes(), 0u);
}

}  // namespace
}  // namespace capillary::engine
