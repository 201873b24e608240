// A crash in the middle of an income run, through the real journal: the steps applied before the
// crash are replayed from the journal onto the last checkpoint (each entry checked against the
// state hash it recorded), the run resumes from the cursor replay rebuilt, and everyone ends up
// paid exactly once — the same state as a run that never crashed.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fund/calendar.h"
#include "fund/funds.h"
#include "journal/journal.h"
#include "payments/limits.h"

namespace capillary::fund {
namespace {

namespace fs = std::filesystem;
using payments::Command;
using payments::CommandKind;
using payments::Result;

constexpr std::uint64_t company = 3;
constexpr std::uint64_t fund_id = 30;
constexpr std::uint64_t holders = 1000;
constexpr std::uint64_t step_holders = 150;
constexpr std::uint64_t rate = 7777;
const std::uint64_t day = day_number(2026, 11, 16);  // a Monday

std::int64_t shares_of(std::uint64_t user) {
  return static_cast<std::int64_t>(user * 7919 % 5'000'000);
}

// One cell's state: what a checkpoint saves and a replay rebuilds.
struct Cell {
  Cell() {
    institution.id = company;
    institution.kind = payments::InstitutionKind::fund_company;
  }
  std::uint64_t hash() const { return ledger.state_hash() + funds.state_hash(); }
  payments::Outcome apply(const Command& command) {
    return funds.apply(command, chain, &institution);
  }

  ledger::Ledger ledger;
  payments::Chain chain{ledger};
  Funds funds;
  payments::InstitutionRecord institution{};
};

struct Checkpoint {
  std::vector<ledger::Account> accounts;
  std::vector<ledger::TransferRecord> transfers;
  std::string funds;
  std::uint64_t sequence = 0, now = 0;
};

Checkpoint checkpoint(const Cell& cell) {
  Checkpoint saved{{cell.ledger.accounts().begin(), cell.ledger.accounts().end()},
                   {cell.ledger.transfers().begin(), cell.ledger.transfers().end()},
                   {},
                   cell.chain.sequence(),
                   cell.chain.now()};
  cell.funds.save(&saved.funds);
  return saved;
}

void restore(const Checkpoint& saved, Cell* cell) {
  cell->ledger.restore(saved.accounts, saved.transfers);
  cell->chain.set_sequence(saved.sequence);
  cell->chain.set_now(saved.now);
  std::string_view in = saved.funds;
  ASSERT_TRUE(cell->funds.load(&in));
}

Command step_command(std::uint64_t id) {
  Command command{};
  command.id = id;
  command.party = company;
  command.target = fund_id;
  command.kind = CommandKind::fund_income_step;
  command.a = day;
  command.b = step_holders;
  return command;
}

class FundsCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = fs::temp_directory_path() / ("capillary_fund_crash_" + std::to_string(::getpid()));
    fs::remove_all(directory_);
    fs::create_directories(directory_);
  }
  void TearDown() override { fs::remove_all(directory_); }

  // A fund with holders, on Tuesday morning, ready to declare Monday's income.
  static void set_up(Cell* cell) {
    cell->chain.set_now(day_start_ns(day) + 3600 * payments::ns_per_s);
    const ledger::AccountSpec account =
        payments::account_spec(payments::AccountKind::institution, company, company, 0);
    ASSERT_EQ(cell->chain.open_accounts({&account, 1}), Result::ok);
    Command create{};
    create.id = 1;
    create.party = company;
    create.target = fund_id;
    create.kind = CommandKind::create_fund;
    ASSERT_EQ(cell->apply(create).result, Result::ok);
    ASSERT_EQ(cell->funds.import_holders(fund_id, 1, holders, shares_of, cell->chain), Result::ok);
    cell->chain.set_now(day_start_ns(day + 1) + 9 * 3600 * payments::ns_per_s);
  }

  // Appends the command to the journal (durably), then applies it, as the engine does.
  static payments::Outcome journaled(journal::Writer& writer, Cell& cell, const Command& command) {
    journal::EntryHeader header{};
    header.timestamp = cell.chain.now();
    header.state_hash = cell.hash();
    header.kind = journal::EntryKind::payments;
    header.event_count = 1;
    header.body_bytes = sizeof(Command);
    EXPECT_TRUE(
        writer.append(header, std::as_bytes(std::span<const Command>(&command, 1))).is_ok());
    return cell.apply(command);
  }

  fs::path directory_;
};

TEST_F(FundsCrashTest, ReplayResumesTheRunAndPaysEveryoneOnce) {
  // The run that never crashes.
  Cell reference;
  set_up(&reference);
  Command declare{};
  declare.id = 2;
  declare.party = company;
  declare.target = fund_id;
  declare.kind = CommandKind::fund_declare_income;
  declare.a = day;
  declare.b = rate;
  ASSERT_EQ(reference.apply(declare).result, Result::ok);
  std::uint64_t id = 3;
  while (reference.apply(step_command(id++)).value > 0) {
  }
  ASSERT_EQ(reference.funds.check_invariants(reference.ledger), "");

  // The run that crashes after three steps: a checkpoint before the declaration, then journaled
  // commands, then everything in memory is lost.
  Checkpoint saved;
  {
    Cell cell;
    set_up(&cell);
    saved = checkpoint(cell);
    journal::End end;
    ASSERT_TRUE(journal::recover(
                    directory_, true, [](const auto&, auto) { return Status::ok(); }, &end)
                    .is_ok());
    std::unique_ptr<journal::Writer> writer;
    ASSERT_TRUE(journal::Writer::open(directory_, end, true, &writer).is_ok());
    ASSERT_EQ(journaled(*writer, cell, declare).result, Result::ok);
    for (std::uint64_t step = 0; step < 3; ++step) {
      ASSERT_GT(journaled(*writer, cell, step_command(3 + step)).value, 0);
    }
  }

  // Recovery: the checkpoint, then every journal entry checked against its recorded hash.
  Cell cell;
  restore(saved, &cell);
  journal::End end;
  std::uint64_t replayed = 0;
  const Status status = journal::recover(
      directory_, true,
      [&](const journal::EntryHeader& header, std::span<const std::byte> body) {
        if (header.state_hash != cell.hash()) return Status::corruption("state hash differs");
        Command command;
        std::memcpy(&command, body.data(), sizeof(Command));
        cell.chain.set_now(header.timestamp);
        cell.apply(command);
        ++replayed;
        return Status::ok();
      },
      &end);
  ASSERT_TRUE(status.is_ok()) << status.message();
  EXPECT_EQ(replayed, 4u);
  ASSERT_EQ(cell.funds.check_invariants(cell.ledger), "");
  const IncomeRun* run = cell.funds.find_run(fund_id, day);
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->cursor, 3 * step_holders);
  EXPECT_EQ(cell.funds.runs_in_progress(),
            (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{fund_id, day}}));

  // Resume from the cursor with new steps, journaled after the replayed ones.
  std::unique_ptr<journal::Writer> writer;
  ASSERT_TRUE(journal::Writer::open(directory_, end, true, &writer).is_ok());
  id = 6;
  while (journaled(*writer, cell, step_command(id++)).value > 0) {
  }
  ASSERT_EQ(cell.funds.check_invariants(cell.ledger), "");
  EXPECT_TRUE(cell.funds.runs_in_progress().empty());
  EXPECT_EQ(cell.hash(), reference.hash());
  const std::uint64_t now = cell.chain.now();
  for (std::uint64_t user = 1; user <= holders; ++user) {
    ASSERT_EQ(cell.funds.holder(fund_id, user, now)->income_total,
              shares_of(user) * static_cast<std::int64_t>(rate) / 100'000'000)
        << user;
  }
  run = cell.funds.find_run(fund_id, day);
  EXPECT_EQ(run->credited + run->residue, run->declared);
  EXPECT_EQ(std::memcmp(run, reference.funds.find_run(fund_id, day), sizeof(IncomeRun)), 0);
}

}  // namespace
}  // namespace capillary::fund
