#include "store/store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <algorithm>
#include <cstring>
#include <map>
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
    Store::prepare_checkpoint(&pending, meta, {}, {}, {}, nullptr,
                              [&](std::map<std::string, std::string>*, CopyLater*) {
                                return std::move(payments);
                              });
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

// History written in batches where a few accounts take many lines each (as the escrow account
// does) and the rest one or two: every statement range, page size and as-of time reads back what
// was written, from the memtable and again from table files after a reopen.
TEST_F(StoreTest, HistoryReadsBackEveryRangeOfGroupedLines) {
  std::mt19937_64 random(20261202);
  constexpr std::uint64_t hot_accounts = 3, accounts = 40;
  std::map<std::uint64_t, std::vector<StatementLine>> written;
  std::uint64_t timestamp = 1000, transfer_id = 0;
  for (std::uint64_t sequence = 1; sequence <= 300; ++sequence) {
    std::vector<ledger::HistoryEntry> entries(std::uniform_int_distribution<std::size_t>(1, 30)(random));
    for (ledger::HistoryEntry& entry : entries) {
      ledger::Transfer& transfer = entry.transfer.transfer;
      transfer.id = ++transfer_id;
      // Most lines have a hot account on one side.
      transfer.debit_account_id = random() % 4 != 0 ? 1 + random() % hot_accounts : 1 + random() % accounts;
      do {
        transfer.credit_account_id = 1 + random() % accounts;
      } while (transfer.credit_account_id == transfer.debit_account_id);
      timestamp += 1 + random() % 3;
      entry.timestamp = timestamp;
      entry.expired = random() % 5 == 0 ? 1 : 0;
      entry.debit_after = {static_cast<std::int64_t>(random() % 1000), static_cast<std::int64_t>(transfer.id), 0, 0};
      entry.credit_after = {0, 0, static_cast<std::int64_t>(random() % 1000), static_cast<std::int64_t>(transfer.id)};
      written[transfer.debit_account_id].push_back(
          {entry.timestamp, transfer.id, entry.expired, entry.debit_after});
      written[transfer.credit_account_id].push_back(
          {entry.timestamp, transfer.id, entry.expired, entry.credit_after});
    }
    ASSERT_TRUE(store_->write_history(sequence, entries).is_ok());
  }
  ASSERT_EQ(store_->history_sequence(), 300u);

  const auto same = [](const StatementLine& a, const StatementLine& b) {
    return a.timestamp == b.timestamp && a.transfer_id == b.transfer_id && a.expired == b.expired &&
           std::memcmp(&a.balances_after, &b.balances_after, sizeof a.balances_after) == 0;
  };
  const auto check_reads = [&] {
    for (int probe = 0; probe < 500; ++probe) {
      const std::uint64_t account = 1 + random() % (accounts + 1);  // one never written
      const std::vector<StatementLine>& all = written[account];
      const std::uint64_t from = 990 + random() % (timestamp - 980);
      const std::uint64_t to = from + random() % 200;
      const std::uint32_t limit = static_cast<std::uint32_t>(random() % 50);
      std::vector<StatementLine> expected;
      for (const StatementLine& line : all) {
        if (line.timestamp >= from && line.timestamp < to && expected.size() < limit) expected.push_back(line);
      }
      std::vector<StatementLine> lines;
      ASSERT_TRUE(store_->statement(account, from, to, limit, &lines).is_ok());
      ASSERT_EQ(lines.size(), expected.size()) << "account " << account << " [" << from << ", " << to << ")";
      for (std::size_t i = 0; i < lines.size(); ++i) ASSERT_TRUE(same(lines[i], expected[i]));

      StatementLine line;
      const Status as_of = store_->balance_as_of(account, from, &line);
      const auto last = std::find_if(all.rbegin(), all.rend(), [&](const StatementLine& l) { return l.timestamp <= from; });
      if (last == all.rend()) {
        ASSERT_EQ(as_of.code(), Status::Code::not_found);
      } else {
        ASSERT_TRUE(as_of.is_ok());
        ASSERT_TRUE(same(line, *last));
      }
    }
    // Paging a hot account a few lines at a time misses and repeats nothing.
    std::vector<StatementLine> paged, page;
    std::uint64_t from = 0;
    do {
      ASSERT_TRUE(store_->statement(1, from, UINT64_MAX, 7, &page).is_ok());
      paged.insert(paged.end(), page.begin(), page.end());
      if (!page.empty()) from = page.back().timestamp + 1;
    } while (!page.empty());
    ASSERT_EQ(paged.size(), written[1].size());
    for (std::size_t i = 0; i < paged.size(); ++i) ASSERT_TRUE(same(paged[i], written[1][i]));
  };
  check_reads();
  store_.reset();
  ASSERT_TRUE(Store::open(directory_, false, &store_).is_ok());
  ASSERT_EQ(store_->history_sequence(), 300u);
  check_reads();
}

}  // namespace
}  // namespace capillary::store
