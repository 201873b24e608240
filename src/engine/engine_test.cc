#include "engine/engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "core/clock.h"
#include "core/limits.h"
#include "payments/accounts.h"
#include "payments/limits.h"

namespace capillary::engine {
namespace {

namespace fs = std::filesystem;
using ledger::AccountSpec;
using ledger::CreateAccountResult;
using ledger::CreateTransferResult;
using ledger::Transfer;

constexpr std::uint64_t start_ns = 1'800'000'000ull * ns_per_s;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = fs::temp_directory_path() /
                ("capillary_engine_" + std::to_string(::getpid()) + "_" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(data_dir_);
  }
  void TearDown() override { fs::remove_all(data_dir_); }

  std::unique_ptr<Engine> open(std::uint64_t checkpoint_bytes = 1ull << 30,
                               std::size_t copy_step_bytes = Options{}.checkpoint_copy_step_bytes) {
    Options options;
    options.data_dir = data_dir_;
    options.clock = &clock_;
    options.checkpoint_journal_bytes = checkpoint_bytes;
    options.checkpoint_copy_step_bytes = copy_step_bytes;
    std::unique_ptr<Engine> engine;
    const Status status = Engine::open(options, &engine);
    EXPECT_TRUE(status.is_ok()) << status.message();
    return engine;
  }

  static AccountSpec wallet(std::uint64_t id) {
    return {.id = id, .owner = id, .user_data = 0, .credit_limit = 0, .ledger = 156, .code = 1,
            .flags = ledger::account_debits_must_not_exceed_credits};
  }
  static AccountSpec open_account(std::uint64_t id) {
    return {.id = id, .owner = id, .user_data = 0, .credit_limit = 0, .ledger = 156, .code = 2,
            .flags = 0};
  }
  static Transfer transfer(std::uint64_t id, std::uint64_t debit, std::uint64_t credit,
                           std::int64_t amount, std::uint16_t flags = 0,
                           std::uint32_t timeout_s = 0, std::uint64_t pending_id = 0) {
    return {.id = id, .debit_account_id = debit, .credit_account_id = credit, .amount = amount,
            .pending_id = pending_id, .user_data = 0, .timeout_s = timeout_s, .ledger = 156,
            .code = 1, .flags = flags, .reserved = 0};
  }

  static std::int64_t available(Engine& engine, std::uint64_t id) {
    std::int64_t balance = -1;
    engine.read([&](const State& state) {
      const auto* account = state.ledger.find_account(id);
      if (account) balance = account->credits_posted - account->debits_posted - account->debits_pending;
    });
    return balance;
  }

  static std::uint64_t hash(Engine& engine) {
    std::uint64_t value = 0;
    engine.read([&](const State& state) { value = state.hash(); });
    return value;
  }

  // Reopening comes back to `state_hash`, and so does verifying from the checkpoint it wrote.
  void expect_reopens_to(std::uint64_t state_hash) {
    auto engine = open();
    EXPECT_EQ(hash(*engine), state_hash);
    engine.reset();
    VerifyReport report;
    const Status verified = verify(data_dir_, true, &report);
    ASSERT_TRUE(verified.is_ok()) << verified.message();
    EXPECT_EQ(report.state_hash, state_hash);
  }

  // Lets every hold with a timeout expire, so no tick can change the state behind a test's back.
  void settle_holds(Engine& engine) {
    clock_.advance(std::chrono::seconds(10));
    for (int i = 0; i < 500; ++i) {
      bool due = false;
      engine.read([&](const State& state) {
        for (const auto& record : state.ledger.transfers()) {
          due |= record.status == ledger::PendingStatus::pending && record.transfer.timeout_s != 0;
        }
      });
      if (!due) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "holds did not expire";
  }

  // A random workload: accounts, funding, payments that sometimes overdraw, holds posted,
  // voided or left to expire, linked chains.
  void run_workload(Engine& engine, std::uint64_t seed, int batches) {
    std::mt19937_64 random(seed);
    std::vector<AccountSpec> accounts = {open_account(1)};
    for (std::uint64_t id = 2; id <= 50; ++id) accounts.push_back(wallet(id));
    engine.create_accounts(accounts);
    std::vector<Transfer> funding;
    for (std::uint64_t id = 2; id <= 50; ++id) funding.push_back(transfer(next_id_++, 1, id, 10'000));
    engine.create_transfers(funding);
    for (int b = 0; b < batches; ++b) {
      std::vector<Transfer> events;
      const int size = 1 + static_cast<int>(random() % 200);
      for (int i = 0; i < size; ++i) {
        const std::uint64_t debit = 2 + random() % 49;
        std::uint64_t credit = 2 + random() % 49;
        if (credit == debit) credit = credit == 50 ? 2 : credit + 1;
        const int kind = static_cast<int>(random() % 10);
        if (kind < 6) {
          events.push_back(transfer(next_id_++, debit, credit, 1 + random() % 3000));
        } else if (kind < 8) {
          holds_.push_back(next_id_);
          events.push_back(transfer(next_id_++, debit, credit, 1 + random() % 2000,
                                    ledger::transfer_pending, static_cast<std::uint32_t>(random() % 3)));
        } else if (!holds_.empty()) {
          const std::uint64_t hold = holds_[random() % holds_.size()];
          const bool post = kind == 8;
          events.push_back(transfer(next_id_++, 0, 0, 0,
                                    post ? ledger::transfer_post_pending : ledger::transfer_void_pending,
                                    0, hold));
          events.back().ledger = 0;
          events.back().code = 0;
        }
        if (!events.empty() && random() % 7 == 0 && i + 1 < size) events.back().flags |= ledger::transfer_linked;
      }
      if (!events.empty()) engine.create_transfers(events);
      clock_.advance(std::chrono::milliseconds(random() % 700));
    }
  }

  fs::path data_dir_;
  ManualClock clock_{start_ns};
  std::uint64_t next_id_ = 1;
  std::vector<std::uint64_t> holds_;
};

TEST_F(EngineTest, ResultsComeBackOncePerEventInOrder) {
  auto engine = open();
  EXPECT_EQ(engine->create_accounts({open_account(1), wallet(2), wallet(2)}),
            (std::vector{CreateAccountResult::ok, CreateAccountResult::ok, CreateAccountResult::exists}));
  EXPECT_EQ(engine->create_transfers({transfer(1, 1, 2, 500), transfer(2, 2, 1, 501),
                                      transfer(3, 2, 1, 200), transfer(1, 1, 2, 500)}),
            (std::vector{CreateTransferResult::ok, CreateTransferResult::exceeds_credits,
                         CreateTransferResult::ok, CreateTransferResult::exists}));
  EXPECT_EQ(available(*engine, 2), 300);
}

TEST_F(EngineTest, RejectsEmptyAndOversizedRequests) {
  auto engine = open();
  EXPECT_EQ(engine->submit_transfers({}, [](auto) {}), Submit::empty);
  std::vector<Transfer> too_many(batch_events_max + 1, transfer(1, 1, 2, 1));
  EXPECT_EQ(engine->submit_transfers(too_many, [](auto) {}), Submit::too_many_events);
  EXPECT_EQ(engine->stats().last_sequence, 0u);
}

TEST_F(EngineTest, AFullQueueRejectsWithOverloadedAndLosesNothingAccepted) {
  auto engine = open();
  engine->create_accounts({open_account(1), open_account(2)});
  // Hold the engine thread inside a read so nothing drains while the queue fills.
  std::promise<void> release, holding;
  std::shared_future<void> released = release.get_future().share();
  ASSERT_EQ(engine->submit_read([released, &holding](const State&) -> Engine::Reply {
              holding.set_value();
              released.wait();
              return {};
            }),
            Submit::accepted);
  holding.get_future().wait();
  std::atomic<std::size_t> done = 0;
  std::size_t accepted = 0;
  Submit last = Submit::accepted;
  std::uint64_t id = 1;
  while (last == Submit::accepted) {
    std::vector<Transfer> batch;
    for (std::size_t i = 0; i < batch_events_max; ++i) batch.push_back(transfer(id++, 1, 2, 1));
    last = engine->submit_transfers(std::move(batch), [&](auto results) {
      for (auto result : results) EXPECT_EQ(result, CreateTransferResult::ok);
      ++done;
    });
    if (last == Submit::accepted) ++accepted;
  }
  EXPECT_EQ(last, Submit::overloaded);
  EXPECT_EQ(accepted, sequencer_queue_events_max / batch_events_max);
  EXPECT_EQ(engine->stats().rejected_overloaded, 1u);
  release.set_value();
  for (int i = 0; i < 3000 && done < accepted; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(done, accepted);
  std::int64_t credits = 0;
  engine->read([&](const State& state) { credits = state.ledger.find_account(2)->credits_posted; });
  EXPECT_EQ(credits, static_cast<std::int64_t>(accepted * batch_events_max));
}

TEST_F(EngineTest, ReopenReplaysToTheSameStateHash) {
  std::uint64_t before = 0;
  {
    auto engine = open();
    run_workload(*engine, 7, 60);
    settle_holds(*engine);
    before = hash(*engine);
  }
  // Remove the checkpoint written at shutdown so the reopen replays the whole journal.
  fs::remove_all(data_dir_ / "history");
  fs::remove_all(data_dir_ / "checkpoints");
  auto engine = open();
  EXPECT_EQ(hash(*engine), before);
  EXPECT_GT(engine->stats().replayed_batches, 60u);
}

TEST_F(EngineTest, VerifyReplaysTheJournalAloneToTheLiveStateHash) {
  std::uint64_t live = 0;
  {
    auto engine = open();
    run_workload(*engine, 11, 80);
    settle_holds(*engine);
    live = hash(*engine);
    VerifyReport report;
    ASSERT_TRUE(verify(data_dir_, false, &report).is_ok());
    EXPECT_EQ(report.state_hash, live);
    EXPECT_TRUE(report.invariant_error.empty()) << report.invariant_error;
  }
  VerifyReport report;
  ASSERT_TRUE(verify(data_dir_, true, &report).is_ok());
  EXPECT_EQ(report.state_hash, live);
  EXPECT_GT(report.checkpoint_sequence, 0u);
  EXPECT_EQ(report.batches_replayed, 0u);
}

TEST_F(EngineTest, CheckpointsBoundTheJournalAndRecoveryResumesFromThem) {
  std::uint64_t before = 0;
  {
    auto engine = open(64 << 10);  // a checkpoint every 64 KiB of journal
    run_workload(*engine, 3, 150);
    settle_holds(*engine);
    before = hash(*engine);
    EXPECT_GT(engine->stats().checkpoint_sequence, 0u);
    // Each checkpoint's copy is timed for the metrics.
    EXPECT_GT(engine->stats().checkpoint_pause_ms_max, 0.0);
    EXPECT_GE(engine->stats().checkpoint_pause_ms_max, engine->stats().checkpoint_pause_ms_last);
    // So is the engine's wait for the journal: at least draining it before each checkpoint.
    const Stats stats = engine->stats();
    EXPECT_GT(stats.journal_wait_ms_max, 0.0);
    EXPECT_GE(stats.journal_wait_ms_total, stats.journal_wait_ms_max);
  }
  expect_reopens_to(before);
}

// Each checkpoint's chunks are copied one between each two batches, while the batches keep
// writing into chunks not yet copied: every checkpoint must still hold the state at its own
// sequence. Verifying beside the running engine checks the latest one, assembled from chunks of
// many, against its state hash before replaying the rest of the journal.
TEST_F(EngineTest, CheckpointsCopiedBetweenBatchesHoldTheStateAtTheirSequence) {
  constexpr std::uint64_t accounts = 6 * checkpoint_chunk_records;
  std::uint64_t before = 0;
  {
    auto engine = open(64 << 10, 1);
    std::vector<AccountSpec> specs = {open_account(1)};
    for (std::uint64_t id = 2; id <= accounts; ++id) specs.push_back(wallet(id));
    for (std::size_t at = 0; at < specs.size(); at += batch_events_max) {
      const std::size_t count = std::min<std::size_t>(batch_events_max, specs.size() - at);
      for (const auto result : engine->create_accounts({specs.begin() + at, specs.begin() + at + count}))
        ASSERT_EQ(result, CreateAccountResult::ok);
    }
    std::mt19937_64 random(21);
    std::set<std::uint64_t> checkpoints;  // the sequences verified
    for (int b = 0; b < 400; ++b) {
      std::vector<Transfer> events;
      for (int i = 0; i < 50; ++i) {
        // From the open account to any wallet, or between wallets, some of them overdrawing.
        const std::uint64_t debit = random() % 3 == 0 ? 1 : 2 + random() % (accounts - 1);
        std::uint64_t credit = 2 + random() % (accounts - 1);
        if (credit == debit) credit = credit == accounts ? 2 : credit + 1;
        events.push_back(transfer(next_id_++, debit, credit, 1 + static_cast<std::int64_t>(random() % 500)));
      }
      engine->create_transfers(events);
      if (b % 50 != 49) continue;
      VerifyReport report;
      const Status verified = verify(data_dir_, true, &report);
      ASSERT_TRUE(verified.is_ok()) << verified.message();
      checkpoints.insert(report.checkpoint_sequence);
    }
    EXPECT_GE(checkpoints.size() - checkpoints.count(0), 4u);
    before = hash(*engine);
  }
  expect_reopens_to(before);
}

TEST_F(EngineTest, HoldsExpireByThemselvesWithoutTraffic) {
  auto engine = open();
  engine->create_accounts({open_account(1), wallet(2)});
  engine->create_transfers({transfer(1, 1, 2, 1000), transfer(2, 2, 1, 600, ledger::transfer_pending, 5)});
  EXPECT_EQ(available(*engine, 2), 400);
  clock_.advance(std::chrono::seconds(6));
  // The engine notices the due hold on its own and journals a tick that releases it.
  for (int i = 0; i < 200 && available(*engine, 2) != 1000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(available(*engine, 2), 1000);
  EXPECT_EQ(engine->create_transfers({transfer(3, 0, 0, 0, ledger::transfer_post_pending, 0, 2)})[0],
            CreateTransferResult::pending_transfer_expired);
}

TEST_F(EngineTest, StatementAndBalanceAsOfFollowTheHistory) {
  auto engine = open();
  engine->create_accounts({open_account(1), wallet(2)});
  std::vector<std::uint64_t> stamps;
  for (std::uint64_t id = 1; id <= 30; ++id) {
    engine->create_transfers({transfer(id, 1, 2, static_cast<std::int64_t>(id))});
    engine->read([&](const State& state) { stamps.push_back(state.ledger.find_transfer(id)->timestamp); });
    clock_.advance(std::chrono::seconds(1));
  }
  engine->wait_for_history();
  std::vector<store::StatementLine> page;
  ASSERT_TRUE(engine->store().statement(2, 0, UINT64_MAX, 10, &page).is_ok());
  ASSERT_EQ(page.size(), 10u);
  EXPECT_EQ(page[0].transfer_id, 1u);
  EXPECT_EQ(page[9].balances_after.credits_posted, 55);  // 1 + 2 + ... + 10
  ASSERT_TRUE(engine->store().statement(2, page.back().timestamp + 1, UINT64_MAX, 100, &page).is_ok());
  EXPECT_EQ(page.size(), 20u);
  EXPECT_EQ(page.front().transfer_id, 11u);

  store::StatementLine line;
  ASSERT_TRUE(engine->store().balance_as_of(2, stamps[4], &line).is_ok());
  EXPECT_EQ(line.balances_after.credits_posted, 15);
  ASSERT_TRUE(engine->store().balance_as_of(2, stamps[5] - 1, &line).is_ok());
  EXPECT_EQ(line.balances_after.credits_posted, 15);
  EXPECT_EQ(engine->store().balance_as_of(2, stamps[0] - 1, &line).code(), Status::Code::not_found);
}

TEST_F(EngineTest, StatementPagesOneLineAtATimeMissNothingWhenHoldsExpireTogether) {
  auto engine = open();
  engine->create_accounts({open_account(1), wallet(2)});
  engine->create_transfers({transfer(1, 1, 2, 1000)});
  engine->create_transfers({transfer(2, 2, 1, 10, ledger::transfer_pending, 1),
                            transfer(3, 2, 1, 20, ledger::transfer_pending, 1),
                            transfer(4, 2, 1, 30, ledger::transfer_pending, 1)});
  clock_.advance(std::chrono::seconds(2));
  // The three holds fall due together and are released in one batch, before its event.
  engine->create_transfers({transfer(5, 2, 1, 1)});
  engine->wait_for_history();
  std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;  // (transfer id, expired)
  std::uint64_t from = 0, previous = 0;
  std::vector<store::StatementLine> page;
  do {
    ASSERT_TRUE(engine->store().statement(2, from, UINT64_MAX, 1, &page).is_ok());
    for (const auto& line : page) {
      EXPECT_GT(line.timestamp, previous);
      previous = line.timestamp;
      seen.emplace_back(line.transfer_id, line.expired);
      from = line.timestamp + 1;
    }
  } while (!page.empty());
  EXPECT_EQ(seen, (std::vector<std::pair<std::uint64_t, std::uint64_t>>{
                      {1, 0}, {2, 0}, {3, 0}, {4, 0}, {2, 1}, {3, 1}, {4, 1}, {5, 0}}));
  EXPECT_EQ(available(*engine, 2), 999);
}

TEST_F(EngineTest, ConcurrentClientsGetEveryResultExactlyOnce) {
  auto engine = open();
  std::vector<AccountSpec> accounts = {open_account(1)};
  for (std::uint64_t id = 2; id <= 9; ++id) accounts.push_back(wallet(id));
  engine->create_accounts(accounts);
  std::vector<std::thread> clients;
  std::atomic<int> ok = 0;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 200; ++i) {
        const std::uint64_t id = 1000 + static_cast<std::uint64_t>(c * 1000 + i);
        const auto results = engine->create_transfers({transfer(id, 1, 2 + static_cast<std::uint64_t>(c), 1)});
        if (results.size() == 1 && results[0] == CreateTransferResult::ok) ++ok;
      }
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(ok, 800);
  for (std::uint64_t id = 2; id <= 5; ++id) EXPECT_EQ(available(*engine, id), 200);
}

// The engine applies a batch while the one before it is still being made durable, and runs reads
// between them, so a read may see writes a crash could still undo. Its reply must wait until they
// are durable: here, until each write it saw has had its answer, which comes only then.
TEST_F(EngineTest, AReadRepliesOnlyOnceEveryWriteItSawIsAnswered) {
  auto engine = open();
  engine->create_accounts({open_account(1), open_account(2)});
  constexpr std::uint64_t transfers = 6000;
  std::vector<std::atomic<bool>> answered(transfers + 1);
  std::atomic<std::uint64_t> submitted_through = 0, failed = 0, requests_answered = 0;
  std::thread writer([&] {
    std::mt19937_64 random(11);
    std::uint64_t requests = 0;
    for (std::uint64_t first = 1; first <= transfers; ++requests) {
      // A few requests outstanding at a time, so the reads below come in among them.
      while (requests > requests_answered + 4) std::this_thread::yield();
      const std::uint64_t count = std::min<std::uint64_t>(1 + random() % 50, transfers + 1 - first);
      std::vector<Transfer> batch;
      for (std::uint64_t id = first; id < first + count; ++id) batch.push_back(transfer(id, 1, 2, 1));
      const auto done = [&, first](std::span<const CreateTransferResult> results) {
        for (std::size_t i = 0; i < results.size(); ++i) {
          if (results[i] != CreateTransferResult::ok) ++failed;
          answered[first + i] = true;
        }
        ++requests_answered;
      };
      while (engine->submit_transfers(batch, done) != Submit::accepted) std::this_thread::yield();
      submitted_through = first + count - 1;
      first += count;
    }
  });
  std::atomic<std::uint64_t> replies = 0, seen = 0, seen_unanswered = 0;
  std::uint64_t reads = 0;
  while (submitted_through < transfers) {
    const std::uint64_t newest = submitted_through;
    const auto read = [&, newest](const State& state) -> Engine::Reply {
      std::vector<std::uint64_t> found;
      for (std::uint64_t id = newest; id > 0 && id + 64 > newest; --id) {
        if (state.ledger.find_transfer(id) != nullptr) found.push_back(id);
      }
      return [&, found] {
        for (const std::uint64_t id : found) seen_unanswered += answered[id] ? 0 : 1;
        seen += found.size();
        ++replies;
      };
    };
    if (engine->submit_read(read) == Submit::accepted) ++reads;
    std::this_thread::yield();
  }
  writer.join();
  engine->read([](const State&) {});
  EXPECT_EQ(replies, reads);
  EXPECT_EQ(failed, 0u);
  EXPECT_GT(seen, 0u);
  EXPECT_EQ(seen_unanswered, 0u);
}

TEST_F(EngineTest, RefusesAJournalThatDisagreesWithItsStateHash) {
  {
    auto engine = open();
    run_workload(*engine, 5, 10);
  }
  fs::remove_all(data_dir_ / "history");
  // Give the journal a checkpoint from another run: replay then starts from a state the journal
  // does not describe, and the first entry's recorded state hash must stop it.
  const fs::path other = data_dir_.string() + "_other";
  fs::remove_all(other);
  {
    Options options;
    options.data_dir = other;
    options.clock = &clock_;
    std::unique_ptr<Engine> engine;
    ASSERT_TRUE(Engine::open(options, &engine).is_ok());
    engine->create_accounts({open_account(999)});
  }
  fs::remove_all(data_dir_ / "checkpoints");
  fs::rename(other / "history", data_dir_ / "history");
  fs::rename(other / "checkpoints", data_dir_ / "checkpoints");
  fs::remove_all(other);
  Options options;
  options.data_dir = data_dir_;
  std::unique_ptr<Engine> engine;
  const Status status = Engine::open(options, &engine);
  EXPECT_EQ(status.code(), Status::Code::corruption) << status.message();
}

namespace payments_in_engine {

using payments::Command;
using payments::CommandKind;
using payments::PartyKind;
using payments::Result;

constexpr std::uint64_t platform = payments::principal(PartyKind::platform, 0);

Command command(std::uint64_t id, CommandKind kind, std::uint64_t party) {
  Command c{};
  c.id = id;
  c.kind = kind;
  c.principal = platform;
  c.party = party;
  return c;
}

// Opens users 1..users and merchant 100 (auto-confirm after 60 s), tops everyone up, and runs
// `orders` escrow orders: create, pay, and confirm every other one.
void run_shop(Engine& engine, std::uint64_t users, std::uint64_t orders) {
  std::uint64_t id = 1;
  std::vector<Command> setup;
  Command merchant = command(id++, CommandKind::open_merchant, 100);
  merchant.a = payments::fee_bps_default;
  merchant.b = 60;
  setup.push_back(merchant);
  for (std::uint64_t u = 1; u <= users; ++u) setup.push_back(command(id++, CommandKind::open_user, u));
  for (std::uint64_t u = 1; u <= users; ++u) {
    Command top_up = command(id++, CommandKind::top_up, u);
    top_up.amount = 1'000'000;
    top_up.bank = {u, 3, payments::BankOutcome::approved, {}};
    setup.push_back(top_up);
  }
  for (const payments::Outcome& outcome : engine.execute(setup)) ASSERT_EQ(outcome.result, Result::ok);
  for (std::uint64_t n = 0; n < orders; ++n) {
    Command create = command(id++, CommandKind::create_order, 100);
    create.amount = 1'000 + static_cast<std::int64_t>(n);
    const auto created = engine.execute({create});
    ASSERT_EQ(created[0].result, Result::ok);
    const auto order = static_cast<std::uint64_t>(created[0].value);
    Command pay = command(id++, CommandKind::pay_order, 1 + n % users);
    pay.target = order;
    pay.funding.wallet = create.amount;
    Command confirm = command(id++, CommandKind::confirm_order, 1 + n % users);
    confirm.target = order;
    std::vector<Command> steps{pay};
    if (n % 2 == 0) steps.push_back(confirm);
    for (const payments::Outcome& outcome : engine.execute(steps)) ASSERT_EQ(outcome.result, Result::ok);
  }
}

std::int64_t merchant_balance(Engine& engine) {
  std::int64_t balance = 0;
  engine.read([&](const State& state) {
    const auto* account = state.ledger.find_account(payments::account_id(payments::AccountKind::merchant, 100));
    balance = account->credits_posted - account->debits_posted;
  });
  return balance;
}

}  // namespace payments_in_engine

TEST_F(EngineTest, PaymentsSurviveReopenFromTheJournalAndFromACheckpoint) {
  using namespace payments_in_engine;
  std::uint64_t before = 0;
  std::int64_t merchant = 0;
  {
    auto engine = open(16 << 10);  // checkpoints along the way
    run_shop(*engine, 5, 40);
    before = hash(*engine);
    merchant = merchant_balance(*engine);
    // Checkpoints are written on their own thread: on a loaded machine the first may still be in
    // flight when the last batch is answered.
    for (int i = 0; i < 500 && engine->stats().checkpoint_sequence == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_GT(engine->stats().checkpoint_sequence, 0u);
    std::string broken;
    engine->read([&](const State& state) { broken = state.check_invariants(); });
    EXPECT_EQ(broken, "");
  }
  {
    auto engine = open();
    EXPECT_EQ(hash(*engine), before);
    EXPECT_EQ(merchant_balance(*engine), merchant);
    // The same idempotency key after the restart: the first result, no second effect.
    Command again = command(1, CommandKind::open_merchant, 100);
    again.a = payments::fee_bps_default;
    again.b = 60;
    const auto replayed = engine->execute({again});
    EXPECT_EQ(replayed[0].result, Result::ok);
    EXPECT_EQ(replayed[0].replayed, 1);
  }
  VerifyReport report;
  ASSERT_TRUE(verify(data_dir_, true, &report).is_ok());
  EXPECT_EQ(report.invariant_error, "");
  EXPECT_EQ(report.state_hash, hash(*open()));
}

TEST_F(EngineTest, OrdersAutoConfirmOnThePlatformClockWithoutTraffic) {
  using namespace payments_in_engine;
  std::vector<payments::OrderEvent> events;
  std::mutex events_mutex;
  Options options;
  options.data_dir = data_dir_;
  options.clock = &clock_;
  options.on_order_events = [&](std::span<const payments::OrderEvent> batch) {
    std::lock_guard lock(events_mutex);
    events.insert(events.end(), batch.begin(), batch.end());
  };
  std::unique_ptr<Engine> engine;
  ASSERT_TRUE(Engine::open(options, &engine).is_ok());
  run_shop(*engine, 2, 2);  // order 1 confirmed, order 2 paid and waiting
  const std::int64_t after_confirm = merchant_balance(*engine);
  clock_.advance(std::chrono::seconds(61));
  for (int i = 0; i < 300 && merchant_balance(*engine) == after_confirm; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Order 2 (1,001 fen) released by the clock, less 60 bps half-up: 6 fen.
  EXPECT_EQ(merchant_balance(*engine) - after_confirm, 1'001 - 6);
  std::lock_guard lock(events_mutex);
  ASSERT_EQ(events.size(), 6u);  // created, paid, released for each of the two orders
  EXPECT_EQ(events.back().state, payments::OrderState::released);
  EXPECT_EQ(events.back().sequence, 3);
}

namespace fund_in_engine {

using payments::Command;
using payments_in_engine::command;
using payments::CommandKind;
using payments::Result;

constexpr std::uint64_t company = 3, fund_id = 77;

// A fund whose register spans two checkpoint chunks: `holders` users, each subscribed.
void open_fund(Engine& engine, std::uint64_t holders) {
  std::uint64_t id = 1'000'000;
  Command institution = command(id++, CommandKind::open_institution, company);
  institution.a = static_cast<std::uint64_t>(payments::InstitutionKind::fund_company);
  Command create = command(id++, CommandKind::create_fund, company);
  create.target = fund_id;
  for (const payments::Outcome& outcome : engine.execute({institution, create})) {
    ASSERT_EQ(outcome.result, Result::ok);
  }
  std::vector<Command> steps;
  for (std::uint64_t user = 1; user <= holders; ++user) {
    steps.push_back(command(id++, CommandKind::open_user, user));
    Command top_up = command(id++, CommandKind::top_up, user);
    top_up.amount = static_cast<std::int64_t>(user);
    top_up.bank = {user, 3, payments::BankOutcome::approved, {}};
    steps.push_back(top_up);
    Command subscribe = command(id++, CommandKind::fund_subscribe, user);
    subscribe.target = fund_id;
    subscribe.amount = static_cast<std::int64_t>(user);
    steps.push_back(subscribe);
    if (steps.size() >= 3'000 || user == holders) {
      for (const payments::Outcome& outcome : engine.execute(steps)) ASSERT_EQ(outcome.result, Result::ok);
      steps.clear();
    }
  }
}

std::int64_t pending_of(Engine& engine, std::uint64_t user) {
  std::int64_t pending = -1;
  engine.read([&](const State& state) {
    if (const auto holder = state.payments.funds().holder(fund_id, user, 0)) pending = holder->pending;
  });
  return pending;
}

}  // namespace fund_in_engine

// A register of two chunks through three checkpoints: the first writes both, the second only the
// one a subscription changed; each reopen rebuilds the same state from the chunks kept and new.
TEST_F(EngineTest, FundRegistersCheckpointInChunksAndRecoverFromOldAndNewOnes) {
  using namespace fund_in_engine;
  constexpr std::uint64_t holders = fund::Register::chunk_holders + 1'000;
  std::uint64_t before = 0;
  {
    auto engine = open();
    open_fund(*engine, holders);
    before = hash(*engine);
  }
  {
    auto engine = open();
    ASSERT_EQ(hash(*engine), before);
    EXPECT_EQ(pending_of(*engine, holders), static_cast<std::int64_t>(holders));
    Command top_up = command(9'000'001, CommandKind::top_up, holders);
    top_up.amount = 5;
    top_up.bank = {9, 3, payments::BankOutcome::approved, {}};
    Command more = command(9'000'002, CommandKind::fund_subscribe, holders);
    more.target = fund_id;
    more.amount = 5;
    for (const payments::Outcome& outcome : engine->execute({top_up, more})) ASSERT_EQ(outcome.result, Result::ok);
    before = hash(*engine);
  }
  auto engine = open();
  EXPECT_EQ(hash(*engine), before);
  EXPECT_EQ(pending_of(*engine, holders), static_cast<std::int64_t>(holders) + 5);
  EXPECT_EQ(pending_of(*engine, 1), 1);
  std::string broken;
  engine->read([&](const State& state) { broken = state.check_invariants(); });
  EXPECT_EQ(broken, "");
}

// The payments tables through three checkpoints (one at each close), users over two chunks: the
// first checkpoint writes every chunk, the second the few a new user changed; each reopen rebuilds
// the same state from the chunks kept and new, and verify agrees from the checkpoint.
TEST_F(EngineTest, PaymentsTablesCheckpointInChunksAndRecoverFromOldAndNewOnes) {
  using namespace payments_in_engine;
  constexpr std::uint64_t users =
      payments::Table<std::uint64_t, payments::UserRecord>::chunk_records + 1'000;
  const auto open_users = [](Engine& engine, std::uint64_t first, std::uint64_t last) {
    std::vector<Command> steps;
    for (std::uint64_t user = first; user <= last; ++user) {
      steps.push_back(command(user, CommandKind::open_user, user));
      if (steps.size() < 4'000 && user != last) continue;
      for (const payments::Outcome& outcome : engine.execute(steps))
        ASSERT_EQ(outcome.result, Result::ok);
      steps.clear();
    }
  };
  std::uint64_t before = 0;
  {
    auto engine = open();
    open_users(*engine, 1, users);
    before = hash(*engine);
  }
  {
    auto engine = open();
    ASSERT_EQ(hash(*engine), before);
    EXPECT_EQ(engine->stats().replayed_batches, 0u);  // all of it from the checkpoint
    // The first chunk's idempotency records came back: the first result, no second effect.
    const auto again = engine->execute({command(1, CommandKind::open_user, 1)});
    EXPECT_EQ(again[0].result, Result::ok);
    EXPECT_EQ(again[0].replayed, 1);
    open_users(*engine, users + 1, users + 1);
    before = hash(*engine);
  }
  auto engine = open();
  EXPECT_EQ(hash(*engine), before);
  bool found = false;
  std::string broken;
  engine->read([&](const State& state) {
    found = state.payments.find_user(1) != nullptr &&
            state.payments.find_user(users + 1) != nullptr &&
            state.payments.find_command(users) != nullptr;
    broken = state.check_invariants();
  });
  EXPECT_TRUE(found);
  EXPECT_EQ(broken, "");
  engine.reset();
  VerifyReport report;
  ASSERT_TRUE(verify(data_dir_, true, &report).is_ok());
  EXPECT_EQ(report.state_hash, before);
}

}  // namespace
}  // namespace capillary::engine
