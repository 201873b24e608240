#include "payments/table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "payments/records.h"

namespace capillary::payments {
namespace {

using Orders = Table<std::uint64_t, OrderRecord>;
constexpr std::uint64_t seed = 3;
// Enough records to fill several chunks and grow the index many times over.
constexpr std::uint64_t records = 5 * Orders::chunk_records + 123;

OrderRecord order(std::uint64_t id, std::int64_t amount) {
  OrderRecord record{};
  record.id = id;
  record.amount = amount;
  record.state = OrderState::awaiting_payment;
  return record;
}

// Ids far apart, so the index's hash does the spreading and not the id's order.
std::uint64_t id_of(std::uint64_t i) { return i * 0x9E3779B97F4A7C15ull + 1; }

std::uint64_t sum_of_hashes(const Orders& table) {
  std::uint64_t hash = 0;
  table.for_each(
      [&](const OrderRecord& record) { hash += checksum(&record, sizeof record, seed); });
  return hash;
}

void fill(Orders* table) {
  for (std::uint64_t i = 0; i < records; ++i)
    table->put(id_of(i), order(id_of(i), static_cast<std::int64_t>(i)));
}

TEST(Table, GrowsAcrossChunksAndFindsEveryRecordWhileItsIndexGrows) {
  Orders table(seed);
  for (std::uint64_t i = 0; i < records; ++i) {
    table.put(id_of(i), order(id_of(i), static_cast<std::int64_t>(i)));
    // The earliest and the latest records stay findable through every growth of the index.
    ASSERT_NE(table.find(id_of(0)), nullptr) << i;
    ASSERT_EQ(table.find(id_of(i))->amount, static_cast<std::int64_t>(i));
  }
  ASSERT_EQ(table.size(), records);
  for (std::uint64_t i = 0; i < records; ++i) {
    const OrderRecord* found = table.find(id_of(i));
    ASSERT_NE(found, nullptr) << i;
    EXPECT_EQ(found->id, id_of(i));
  }
  EXPECT_EQ(table.find(id_of(records)), nullptr);
  EXPECT_EQ(table.find(0), nullptr);
  EXPECT_EQ(table.hash(), sum_of_hashes(table));
  EXPECT_EQ(table.hash(), table.recompute_hash());
}

TEST(Table, ReplacingKeepsTheSizeAndTheHashASumOfTheRecords) {
  Orders table(seed);
  fill(&table);
  for (std::uint64_t i = 0; i < records; i += 1000) table.put(id_of(i), order(id_of(i), -1));
  EXPECT_EQ(table.size(), records);
  EXPECT_EQ(table.find(id_of(1000))->amount, -1);
  EXPECT_EQ(table.find(id_of(1001))->amount, 1001);
  EXPECT_EQ(table.hash(), sum_of_hashes(table));

  // The same records put in another order give the same hash.
  Orders reversed(seed);
  for (std::uint64_t i = records; i-- > 0;) {
    reversed.put(id_of(i), order(id_of(i), i % 1000 == 0 ? -1 : static_cast<std::int64_t>(i)));
  }
  EXPECT_EQ(reversed.hash(), table.hash());
}

TEST(Table, VisitsRecordsInTheOrderTheyWereFirstPut) {
  Orders table(seed);
  fill(&table);
  table.put(id_of(7), order(id_of(7), -7));
  std::uint64_t i = 0;
  bool in_order = true;
  table.for_each(
      [&](const OrderRecord& record) { in_order = in_order && record.id == id_of(i++); });
  EXPECT_TRUE(in_order);
  EXPECT_EQ(i, records);
}

TEST(Table, TakeChangedGivesOnlyTheChunksChangedSinceTheLastTake) {
  Orders table(seed);
  fill(&table);
  Parts parts;
  // What a take would copy, each changed chunk counted full: six chunks.
  EXPECT_EQ(table.changed_bytes(), 6 * Orders::chunk_records * sizeof(OrderRecord));
  table.take_changed(&parts);
  EXPECT_EQ(table.changed_bytes(), 0u);
  ASSERT_EQ(parts.size(), 6u);  // five full chunks and one of 123 records
  EXPECT_EQ(parts.at(table.part_key(5)).size(), 123 * sizeof(OrderRecord));

  Parts nothing;
  table.take_changed(&nothing);
  EXPECT_TRUE(nothing.empty());

  // A record replaced in chunk 1 and one appended to chunk 5: those two chunks only.
  table.put(id_of(Orders::chunk_records + 5), order(id_of(Orders::chunk_records + 5), -5));
  table.put(id_of(records), order(id_of(records), 0));
  EXPECT_EQ(table.changed_bytes(), 2 * Orders::chunk_records * sizeof(OrderRecord));
  Parts changed;
  table.take_changed(&changed);
  ASSERT_EQ(changed.size(), 2u);
  EXPECT_TRUE(changed.contains(table.part_key(1)));
  EXPECT_EQ(changed.at(table.part_key(5)).size(), 124 * sizeof(OrderRecord));

  // The chunks of both takes, newer over older, give the table back: same hash, same records,
  // nothing counted as changed.
  for (auto& [key, bytes] : changed) parts[key] = bytes;
  Orders loaded(seed);
  ASSERT_TRUE(loaded.load_parts(table.size(), parts, [](const OrderRecord& r) { return r.id; }));
  EXPECT_EQ(loaded.size(), records + 1);
  EXPECT_EQ(loaded.hash(), table.hash());
  EXPECT_EQ(loaded.find(id_of(Orders::chunk_records + 5))->amount, -5);
  EXPECT_NE(loaded.find(id_of(records)), nullptr);
  Parts after_load;
  loaded.take_changed(&after_load);
  EXPECT_TRUE(after_load.empty());

  // And it goes on growing from there.
  loaded.put(id_of(records + 1), order(id_of(records + 1), 1));
  EXPECT_EQ(loaded.find(id_of(records + 1))->amount, 1);
  EXPECT_EQ(loaded.hash(), loaded.recompute_hash());
}

// Chunks taken for a checkpoint and copied later, a few at a time, while seeded random puts
// replace records in them and append new ones: the copies, loaded, are the table as it was taken.
TEST(Table, ChunksCopiedLaterHoldTheTableAsItWasTaken) {
  for (const std::uint64_t run : {1, 2, 3}) {
    Orders table(seed);
    fill(&table);
    const std::uint64_t taken_hash = table.hash();
    const std::uint64_t taken_size = table.size();
    Parts parts;
    CopyLater later;
    table.take_changed(&parts, &later);
    ASSERT_FALSE(later.done());
    std::mt19937_64 random(run);
    std::uint64_t next = records;
    while (!later.done()) {
      for (int i = 0; i < 100; ++i) {
        const std::uint64_t at = random() % 4 == 0 ? next++ : random() % records;
        table.put(id_of(at), order(id_of(at), -static_cast<std::int64_t>(random() % 1'000)));
      }
      later.copy_some(random() % (2 * Orders::chunk_records * sizeof(OrderRecord)));
    }
    ASSERT_NE(table.hash(), taken_hash);
    Orders loaded(seed);
    ASSERT_TRUE(loaded.load_parts(taken_size, parts, [](const OrderRecord& r) { return r.id; }));
    EXPECT_EQ(loaded.hash(), taken_hash) << "run " << run;
    EXPECT_EQ(loaded.find(id_of(7))->amount, 7);
    // What changed meanwhile is in the next checkpoint's chunks, copied at once.
    Parts next_parts;
    table.take_changed(&next_parts);
    for (auto& [key, bytes] : next_parts) parts[key] = bytes;
    Orders reloaded(seed);
    ASSERT_TRUE(reloaded.load_parts(table.size(), parts, [](const OrderRecord& r) { return r.id; }));
    EXPECT_EQ(reloaded.hash(), table.hash());
  }
}

TEST(Table, LoadPartsRefusesAMissingOrShortChunkAndARepeatedKey) {
  Orders table(seed);
  fill(&table);
  Parts parts;
  table.take_changed(&parts);
  const auto by_id = [](const OrderRecord& r) { return r.id; };
  Orders loaded(seed);

  Parts missing = parts;
  missing.erase(table.part_key(2));
  EXPECT_FALSE(loaded.load_parts(records, missing, by_id));

  Parts short_chunk = parts;
  short_chunk[table.part_key(5)].pop_back();
  EXPECT_FALSE(loaded.load_parts(records, short_chunk, by_id));

  Parts repeated = parts;
  std::string& last = repeated[table.part_key(5)];
  last.replace(last.size() - sizeof(OrderRecord), sizeof(OrderRecord),
               last.substr(0, sizeof(OrderRecord)));
  EXPECT_FALSE(loaded.load_parts(records, repeated, by_id));

  EXPECT_TRUE(loaded.load_parts(records, parts, by_id));
  EXPECT_EQ(loaded.hash(), table.hash());
}

TEST(Table, InlineSaveAndLoadRoundTripAndCountEveryChunkAsChanged) {
  Orders table(seed);
  fill(&table);
  std::string saved;
  table.save(&saved);
  std::string_view in = saved;
  Orders loaded(seed);
  ASSERT_TRUE(loaded.load(&in, [](const OrderRecord& r) { return r.id; }));
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(loaded.size(), records);
  EXPECT_EQ(loaded.hash(), table.hash());
  EXPECT_EQ(loaded.find(id_of(records - 1))->amount, static_cast<std::int64_t>(records - 1));
  Parts parts;
  loaded.take_changed(&parts);
  EXPECT_EQ(parts.size(), 6u);

  std::string_view truncated = std::string_view(saved).substr(0, saved.size() - 1);
  EXPECT_FALSE(loaded.load(&truncated, [](const OrderRecord& r) { return r.id; }));
}

// Pair keys (claims, coupons, settlements) take the same paths.
TEST(Table, PairKeysGrowAndHashTheSame) {
  Table<std::pair<std::uint64_t, std::uint64_t>, PairRecord> table(7);
  std::uint64_t hash = 0;
  for (std::uint64_t i = 0; i < 2 * Orders::chunk_records; ++i) {
    const PairRecord record{i % 97, i, i * 3};
    table.put({record.first, record.second}, record);
    hash += checksum(&record, sizeof record, 7);
  }
  EXPECT_EQ(table.hash(), hash);
  EXPECT_EQ(table.find({5, 5})->count, 15u);
  EXPECT_EQ(table.find({5, 6}), nullptr);
}

}  // namespace
}  // namespace capillary::payments
