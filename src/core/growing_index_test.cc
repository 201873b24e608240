#include "core/growing_index.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

namespace capillary {
namespace {

// Seeded random inserts, repeated inserts and erases against a plain map, checking every key the
// model knows after each step: through several growths, with erases landing on keys still in the
// old index, already moved, and at the point the move has reached.
TEST(GrowingIndex, agrees_with_a_map_through_inserts_erases_and_growth) {
  std::mt19937_64 random(7);
  GrowingIndex<std::uint64_t> index;
  std::unordered_map<std::uint64_t, std::uint32_t> model;
  std::vector<std::uint64_t> keys;
  std::uint32_t next_slot = 0;
  for (int step = 0; step < 200'000; ++step) {
    const auto roll = random() % 10;
    if (roll < 7 || keys.empty()) {
      // New keys mostly; now and then one seen before, which must keep its first slot.
      const std::uint64_t key = (roll == 0 && !keys.empty()) ? keys[random() % keys.size()] : random();
      const auto [slot, inserted] = index.try_emplace(key, next_slot);
      const auto [it, model_inserted] = model.try_emplace(key, next_slot);
      ASSERT_EQ(inserted, model_inserted);
      ASSERT_EQ(slot, it->second);
      if (inserted) {
        keys.push_back(key);
        ++next_slot;
      }
    } else if (roll < 9) {
      const std::uint64_t key = keys[random() % keys.size()];
      index.erase(key);
      model.erase(key);
    } else {
      const std::uint64_t key = random();  // almost surely absent
      ASSERT_EQ(index.find(key) == nullptr, !model.contains(key));
    }
    ASSERT_EQ(index.size(), model.size());
    if (step % 20'000 == 0 || step > 199'000) {
      for (const std::uint64_t key : keys) {
        const std::uint32_t* slot = index.find(key);
        const auto it = model.find(key);
        ASSERT_EQ(slot == nullptr, it == model.end()) << "key " << key << " at step " << step;
        if (slot != nullptr) {
          ASSERT_EQ(*slot, it->second);
        }
      }
    }
  }
}

TEST(GrowingIndex, erasing_the_newest_key_undoes_its_insert) {
  GrowingIndex<std::uint64_t> index;
  for (std::uint32_t slot = 0; slot < 100'000; ++slot) {
    ASSERT_TRUE(index.try_emplace(slot * 31 + 5, slot).second);
    index.erase(slot * 31 + 5);
    ASSERT_EQ(index.find(slot * 31 + 5), nullptr);
    ASSERT_TRUE(index.try_emplace(slot * 31 + 5, slot).second);
  }
  EXPECT_EQ(index.size(), 100'000u);
  for (std::uint32_t slot = 0; slot < 100'000; ++slot) {
    ASSERT_NE(index.find(slot * 31 + 5), nullptr);
    ASSERT_EQ(*index.find(slot * 31 + 5), slot);
  }
}

TEST(GrowingIndex, reserve_and_reset_keep_or_drop_what_is_there) {
  GrowingIndex<std::uint64_t> index;
  for (std::uint32_t slot = 0; slot < 1'000; ++slot) index.try_emplace(slot, slot);
  index.reserve(1'000'000);
  EXPECT_EQ(index.size(), 1'000u);
  for (std::uint32_t slot = 0; slot < 1'000; ++slot) ASSERT_EQ(*index.find(slot), slot);
  index.reset(10);
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.find(5), nullptr);
}

}  // namespace
}  // namespace capillary
