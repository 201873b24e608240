#include "core/chunked.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace capillary {
namespace {

struct Record {
  std::uint64_t id;
  std::uint64_t value;
};
// Small chunks, so a few thousand records cross many chunk boundaries.
using Records = Chunked<Record, 64>;

TEST(Chunked, records_keep_their_address_as_it_grows) {
  Records records;
  std::vector<const Record*> addresses;
  for (std::uint64_t i = 0; i < 5'000; ++i) {
    records.push_back({i, i * 3});
    addresses.push_back(&records[i]);
  }
  ASSERT_EQ(records.size(), 5'000u);
  std::uint64_t i = 0;
  for (const Record& record : records) {
    ASSERT_EQ(&record, addresses[i]);
    ASSERT_EQ(record.id, i);
    ASSERT_EQ(record.value, i * 3);
    ++i;
  }
  EXPECT_EQ(i, 5'000u);
  EXPECT_EQ(records.back().id, 4'999u);
}

TEST(Chunked, pop_back_then_push_back_reuses_the_slot) {
  Records records;
  for (std::uint64_t i = 0; i < 65; ++i) records.push_back({i, 0});
  const Record* last = &records[64];
  records.pop_back();
  EXPECT_EQ(records.size(), 64u);
  records.push_back({99, 1});
  EXPECT_EQ(&records[64], last);
  EXPECT_EQ(records[64].id, 99u);
}

TEST(Chunked, a_run_inside_a_chunk_is_contiguous) {
  Records records;
  for (std::uint64_t i = 0; i < 200; ++i) records.push_back({i, 0});
  const std::span<const Record> run = std::as_const(records).run(128, 64);
  ASSERT_EQ(run.size(), 64u);
  for (std::size_t k = 0; k < run.size(); ++k) EXPECT_EQ(run[k].id, 128 + k);
  EXPECT_TRUE(std::as_const(records).run(200, 0).empty());
}

TEST(Chunked, resize_for_overwrite_gives_room_for_every_record) {
  Records records;
  records.push_back({1, 1});
  records.resize_for_overwrite(1'000);
  ASSERT_EQ(records.size(), 1'000u);
  for (std::uint64_t i = 0; i < 1'000; ++i) records[i] = {i, i};
  for (std::uint64_t i = 0; i < 1'000; ++i) ASSERT_EQ(records[i].value, i);
  records.clear();
  EXPECT_TRUE(records.empty());
}

}  // namespace
}  // namespace capillary
