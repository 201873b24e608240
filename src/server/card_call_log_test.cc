// The card call log on a real RocksDB: records survive a reopen byte for byte, removed ones do
// not, and a record that is not one this version wrote fails the open instead of being skipped.

#include "server/card_call_log.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <unistd.h>

#include <random>

namespace capillary::server {
namespace {

namespace fs = std::filesystem;

class CardCallLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("capillary_card_call_log_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    reopen();
  }
  void TearDown() override {
    log_.reset();
    fs::remove_all(dir_);
  }
  void reopen() {
    log_.reset();
    ASSERT_TRUE(CardCallLog::open(dir_, &log_).is_ok());
  }

  fs::path dir_;
  std::unique_ptr<CardCallLog> log_;
};

// A call with every field drawn from `random`, so that a field the encoding dropped or swapped
// shows as a difference.
CardCall random_call(std::mt19937_64& random) {
  CardCall call;
  std::memset(&call.command, 0, sizeof call.command);
  call.command.id = random() | 1;
  call.command.kind = random() % 2 == 0 ? payments::CommandKind::pay_order : payments::CommandKind::refund_order;
  call.command.amount = static_cast<std::int64_t>(random() % 1'000'000);
  call.command.funding.card = call.command.amount / 2;
  call.command.target = random();
  call.command.request_hash = random();
  call.card = {"tok_" + std::to_string(random()), "B" + std::to_string(random() % 100)};
  call.amount = static_cast<std::int64_t>(random() % 1'000'000) + 1;
  call.reference = std::string(random() % 40, 'r') + std::to_string(random());
  call.refund = random() % 2 == 0;
  call.reversal = call.refund && random() % 2 == 0;
  call.channel = static_cast<std::uint32_t>(random() % 200) + 1;
  return call;
}

TEST(CardCallRecord, DecodesWhatItEncodes) {
  std::mt19937_64 random(20261202);
  for (int i = 0; i < 1000; ++i) {
    const CardCall call = random_call(random);
    CardCall decoded;
    ASSERT_TRUE(decode_card_call(encode_card_call(call), &decoded).is_ok());
    EXPECT_EQ(decoded, call);
  }
}

TEST(CardCallRecord, RefusesTruncatedOrPaddedBytes) {
  std::mt19937_64 random(7);
  const std::string bytes = encode_card_call(random_call(random));
  CardCall decoded;
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_EQ(decode_card_call(std::string_view(bytes).substr(0, size), &decoded).code(), Status::Code::corruption)
        << "cut at " << size;
  }
  EXPECT_EQ(decode_card_call(bytes + "x", &decoded).code(), Status::Code::corruption);
  std::string other_version = bytes;
  other_version[0] = 2;
  EXPECT_EQ(decode_card_call(other_version, &decoded).code(), Status::Code::corruption);
}

TEST_F(CardCallLogTest, KeepsWhatIsPutAndNotWhatIsErasedAcrossAReopen) {
  std::mt19937_64 random(42);
  std::vector<std::pair<std::uint64_t, CardCall>> kept;
  for (std::uint64_t key = 1; key <= 20; ++key) {
    const CardCall call = random_call(random);
    ASSERT_TRUE(log_->put(key, call).is_ok());
    if (key % 3 == 0) {
      ASSERT_TRUE(log_->erase(key).is_ok());
    } else {
      kept.emplace_back(key, call);
    }
  }
  EXPECT_TRUE(log_->take_unfinished().empty()) << "a new log holds nothing from before";
  reopen();
  EXPECT_EQ(log_->take_unfinished(), kept);
  EXPECT_TRUE(log_->take_unfinished().empty()) << "taken once";
}

TEST_F(CardCallLogTest, AnUnreadableRecordFailsTheOpen) {
  log_.reset();
  {
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.string(), &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), std::string(8, '\1'), "not a card call").ok());
    delete db;
  }
  std::unique_ptr<CardCallLog> log;
  const Status status = CardCallLog::open(dir_, &log);
  EXPECT_EQ(status.code(), Status::Code::corruption) << status.message();
  EXPECT_EQ(log, nullptr);
}

}  // namespace
}  // namespace capillary::server
