#include "fund/register.h"

#include <gtest/gtest.h>

namespace capillary::fund {
namespace {

constexpr std::uint32_t chunk = Register::chunk_holders;

Register filled(std::uint32_t holders) {
  Register reg;
  for (std::uint32_t slot = 0; slot < holders; ++slot) {
    Holder holder{};
    holder.confirmed = slot;
    reg.add(1'000'000 + slot, holder);
  }
  return reg;
}

// Every chunk once, then only the chunks written since: what incremental checkpoints rely on.
TEST(RegisterParts, TakeChangedGivesOnlyWhatChangedSinceTheLastTake) {
  Register reg = filled(chunk + 10);
  Parts parts;
  reg.take_changed("f", &parts);
  EXPECT_EQ(parts.size(), 2u);
  Parts again;
  reg.take_changed("f", &again);
  EXPECT_TRUE(again.empty());

  Holder changed = reg.at(chunk + 3);
  changed.pending = 42;
  reg.put(chunk + 3, changed);
  reg.update(5, 6, [](Holder&) { return false; });  // looked at, unchanged: not written again
  reg.take_changed("f", &again);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again.begin()->first, parts.rbegin()->first);
  for (auto& [key, bytes] : again) parts[key] = bytes;

  Register back;
  ASSERT_TRUE(back.load_parts(reg.size(), "f", parts));
  EXPECT_EQ(back.hash(), reg.hash());
  EXPECT_EQ(back.at(chunk + 3).pending, 42);
  EXPECT_EQ(back.find(1'000'000 + chunk + 9), chunk + 9);
  Parts none;
  back.take_changed("f", &none);
  EXPECT_TRUE(none.empty());  // all of it is in the parts it came from
}

TEST(RegisterParts, AMissingOrShortChunkIsRefused) {
  Register reg = filled(chunk + 10);
  Parts parts;
  reg.take_changed("f", &parts);
  Register back;
  Parts missing = parts;
  missing.erase(missing.begin());
  EXPECT_FALSE(back.load_parts(reg.size(), "f", missing));
  Parts short_chunk = parts;
  short_chunk.rbegin()->second.pop_back();
  EXPECT_FALSE(back.load_parts(reg.size(), "f", short_chunk));
  EXPECT_FALSE(back.load_parts(reg.size(), "g", parts));  // another fund's prefix
}

}  // namespace
}  // namespace capillary::fund
