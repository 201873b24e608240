#include "store/store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include <unistd.h>

namespace capillary::store {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = fs::temp_directory_path() /
                 ("capillary-store-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(directory_);
    fs::create_directories(directory_);
    ASSERT_TRUE(Store::open(directory_, false, &store_).is_ok());
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(directory_);
  }

  void checkpoint(std::uint64_t sequence, std::string payments) {
    CheckpointMeta meta{};
    meta.sequence = sequence;
    PendingCheckpoint pending;
    Store::prepare_checkpoint(&pending, meta, {}, {}, {}, {},
                              [&](std::map<std::string, std::string>*) { return std::move(payments); });
    ASSERT_TRUE(store_->write_checkpoint(pending).is_ok());
  }

  fs::path directory_;
  std::unique_ptr<Store> store_;
};

std::string random_bytes(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::string bytes(size, '\0');
  for (char& byte : bytes) byte = static_cast<char>(random());
  return bytes;
}

// A module state of several parts reads back byte for byte; a smaller one written over it later
// reads back as itself, not with the larger one's leftover parts.
TEST_F(StoreTest, PaymentsStateOfManyPartsReadsBackWhole) {
  const std::string large = random_bytes((150u << 20) + 7, 1);
  checkpoint(1, large);
  Checkpoint read;
  ASSERT_TRUE(store_->read_checkpoint(&read).is_ok());
  EXPECT_EQ(read.meta.sequence, 1u);
  EXPECT_TRUE(read.payments == large);

  const std::string small = random_bytes((64u << 20) + 1, 2);
  checkpoint(2, small);
  ASSERT_TRUE(store_->read_checkpoint(&read).is_ok());
  EXPECT_EQ(read.meta.sequence, 2u);
  EXPECT_TRUE(read.payments == small);

  checkpoint(3, "");
  ASSERT_TRUE(store_->read_checkpoint(&read).is_ok());
  EXPECT_TRUE(read.payments.empty());
}

}  // namespace
}  // namespace capillary::store
