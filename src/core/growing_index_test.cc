#include "core/growing_index.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

namespace capillary {
namespace {

// Seeded random inserts, repeated inserts and erases against a plain map, checking every key the
// model knows after each step: through several growths, with erases landing on keys in the frozen
// table, in the delta, already moved, and at the point the move has reached, and on keys erased
// and inserted again while the copy is built. New keys are half random, half the next of a
// sequence, as ids the platform hands out are (IndexHash packs those together).
void agrees_with_a_map(std::size_t background_min, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  GrowingIndex<std::uint64_t> index(background_min);
  std::unordered_map<std::uint64_t, std::uint32_t> model;
  std::vector<std::uint64_t> keys;
  std::uint32_t next_slot = 0;
  std::uint64_t next_in_sequence = random();
  for (int step = 0; step < 200'000; ++step) {
    const auto roll = random() % 10;
    if (roll < 7 || keys.empty()) {
      // New keys mostly; now and then one seen before, which must keep its first slot.
      const std::uint64_t key = (roll == 0 && !keys.empty()) ? keys[random() % keys.size()]
                                : roll % 2 == 0              ? next_in_sequence++
                                                             : random();
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
    // Every key now and then and at the end; over the last thousand steps, a thousand random ones
    // after each step.
    const bool all = step % 20'000 == 0 || step == 199'999;
    if (all || step > 199'000) {
      for (std::size_t i = 0; i < (all ? keys.size() : 1'000); ++i) {
        const std::uint64_t key = all ? keys[i] : keys[random() % keys.size()];
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

TEST(GrowingIndex, agrees_with_a_map_through_inserts_erases_and_growth) {
  agrees_with_a_map(GrowingIndex<std::uint64_t>::background_min_default, 7);
}

// Every growth on a thread of its own, from the smallest index up: the builds race the inserts,
// some finishing at once, some only when the delta fills and an insert waits for them.
TEST(GrowingIndex, agrees_with_a_map_when_every_growth_is_built_in_the_background) {
  for (const std::uint64_t seed : {7, 8, 9}) agrees_with_a_map(1, seed);
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

// Each growth doubles the index (2^k - 1 slots to 2^(k+1) - 1), and once its tables are mapped
// regions, every growth after the first finds its table mapped ahead, with the entries all there.
TEST(GrowingIndex, doubles_and_grows_into_memory_mapped_ahead) {
  GrowingIndex<std::uint64_t> index;
  std::vector<std::size_t> capacities{index.capacity()};
  constexpr std::uint32_t keys = 2'000'000;
  for (std::uint32_t slot = 0; slot < keys; ++slot) {
    ASSERT_TRUE(index.try_emplace(std::uint64_t{slot} * 7919 + 3, slot).second);
    if (index.capacity() != capacities.back()) capacities.push_back(index.capacity());
    ASSERT_LE(index.size(), index.capacity());
  }
  ASSERT_GE(capacities.size(), 10u);
  for (std::size_t i = 1; i < capacities.size(); ++i) {
    EXPECT_EQ(capacities[i], 2 * capacities[i - 1] + 1) << "growth " << i;
  }
  // 2 million entries grew through tables of 2^17 .. 2^22 slots, 2 MiB and more each: the
  // first of them was mapped when needed, the others ahead.
  EXPECT_GE(index.tables_mapped_ahead(), 4u);
  // 2^17 slots and up grew in the background: from 98,304 entries, then 196,608 and so on.
  EXPECT_GE(index.built_in_background(), 4u);
  for (std::uint32_t slot = 0; slot < keys; ++slot) {
    const std::uint32_t* found = index.find(std::uint64_t{slot} * 7919 + 3);
    ASSERT_NE(found, nullptr);
    ASSERT_EQ(*found, slot);
  }
}

// A region handed out while its pages are still being populated keeps what is written to it.
// A run of consecutive ids starts probing at one slot (absl's H1 is the hash above 7 bits) and
// differs in the tag (the low 7 bits); the next run starts elsewhere.
TEST(IndexHash, a_run_of_consecutive_ids_shares_a_starting_slot) {
  const IndexHash<std::uint64_t> hash;
  constexpr std::uint64_t run = std::uint64_t{1} << IndexHash<std::uint64_t>::run_bits;
  std::mt19937_64 random(11);
  int next_run_elsewhere = 0;
  for (int trial = 0; trial < 1'000; ++trial) {
    const std::uint64_t first = random() & ~(run - 1);
    for (std::uint64_t i = 1; i < run; ++i) {
      EXPECT_EQ(hash(first + i) >> 7, hash(first) >> 7);
      EXPECT_NE(hash(first + i) & 0x7f, hash(first) & 0x7f);
    }
    if (hash(first + run) >> 7 != hash(first) >> 7) ++next_run_elsewhere;
  }
  EXPECT_EQ(next_run_elsewhere, 1'000);
}

TEST(IndexMemory, a_region_taken_while_populating_keeps_its_bytes) {
  IndexMemory memory;
  constexpr std::size_t bytes = 64 << 20;
  void* first = memory.allocate(bytes / 2);
  memory.prepare_next();
  ASSERT_GE(memory.ahead_bytes(), bytes);
  auto* taken = static_cast<std::uint64_t*>(memory.allocate(bytes));
  EXPECT_EQ(memory.tables_mapped_ahead(), 1u);
  EXPECT_EQ(memory.ahead_bytes(), 0u);
  for (std::size_t i = 0; i < bytes / 8; ++i) taken[i] = i * 3 + 1;
  for (std::size_t i = 0; i < bytes / 8; ++i) ASSERT_EQ(taken[i], i * 3 + 1) << i;
  memory.deallocate(taken, bytes);
  memory.deallocate(first, bytes / 2);
  // Small tables come from malloc and are never mapped ahead.
  void* small = memory.allocate(1000);
  memory.prepare_next();
  EXPECT_EQ(memory.ahead_bytes(), 0u);
  memory.deallocate(small, 1000);
}

}  // namespace
}  // namespace capillary
