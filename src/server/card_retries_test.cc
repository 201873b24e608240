// CardRetries finishing what a stopped process left in the card call log, on a real engine and
// gateway, with the banks simulated in process (the only part that lives outside). A charge is
// logged with the channel it goes to before it leaves, so one still on its way when the process
// stopped is sent again to that bank, not wherever routing would send it now. A charge a log holds
// without a channel (logs from before calls named theirs) is looked for at every channel its card
// could have gone to: taken from the one that holds it, sent routed when none does, and charged
// once either way.

#include "server/card_retries.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "banksim/bank.h"
#include "channels/config.h"
#include "core/clock.h"
#include "payments/accounts.h"

namespace capillary::server {
namespace {

namespace fs = std::filesystem;
using channels::BankApi;
using channels::BankCallback;
using channels::BankRequest;
using channels::BankResponse;

// ICBC cards go to channel 1, then fall back to 2; both banks approve every call (the defaults:
// no errors, no declines). Channel 1 takes one charge a second, channel 2 far more.
channels::BanksConfig two_channels() {
  channels::BanksConfig config;
  config.seed = 11;
  for (channels::ChannelId id : {1u, 2u}) {
    channels::ChannelConfig channel;
    channel.id = id;
    channel.name = "channel-" + std::to_string(id);
    if (id == 1) channel.limits[static_cast<std::size_t>(BankApi::debit_card)] = {.rate_per_s = 1, .burst = 1};
    config.channels.push_back(channel);
  }
  config.routes.push_back({"ICBC", {1, 2}});
  return config;
}

// Each channel's simulated bank, answering at once on the caller's thread. Calls to a channel set
// to lose them never arrive, as calls still on their way when the process stopped.
class BanksInProcess final : public channels::Connector {
 public:
  BanksInProcess(const channels::BanksConfig& config, const Clock& clock) {
    for (const channels::ChannelConfig& channel : config.channels) {
      banks_.emplace(channel.id, std::make_unique<banksim::SimulatedBank>(channel, config.seed, clock));
    }
  }
  void debit_card(const BankRequest& request, BankCallback callback) override {
    if (request.channel_id == losing_) {
      ++lost_;
      return;
    }
    callback(response(bank(request.channel_id).handle(BankApi::debit_card, request.reference, request.amount_fen)));
  }
  void credit_card(const BankRequest& request, BankCallback callback) override {
    callback(response(bank(request.channel_id)
                          .handle(BankApi::credit_card, request.reference, request.amount_fen, request.refund)));
  }
  void query(channels::ChannelId channel_id, const std::string& reference, BankCallback callback) override {
    const std::optional<banksim::Decision> found = bank(channel_id).find(reference);
    if (found) return callback(response(*found));
    BankResponse unknown;
    unknown.failure = channels::FailureKind::unknown_reference;
    callback(unknown);
  }
  banksim::SimulatedBank& bank(channels::ChannelId id) { return *banks_.at(id); }
  void lose_calls_to(channels::ChannelId id) { losing_ = id; }  // 0: lose none
  int lost() const { return lost_; }

 private:
  static BankResponse response(const banksim::Decision& decision) {
    BankResponse response;
    response.bank_reference = decision.bank_reference;
    switch (decision.verdict) {
      case banksim::Verdict::approved:
        response.outcome = channels::BankOutcome::approved;
        break;
      case banksim::Verdict::declined:
        response.outcome = channels::BankOutcome::declined;
        response.decline_reason = std::string(decision.decline_reason);
        break;
      case banksim::Verdict::error:
      case banksim::Verdict::over_capacity:
        response.failure = channels::FailureKind::error;
        break;
    }
    return response;
  }
  std::map<channels::ChannelId, std::unique_ptr<banksim::SimulatedBank>> banks_;
  channels::ChannelId losing_ = 0;
  int lost_ = 0;
};

constexpr std::uint64_t user = 7;
constexpr std::int64_t amount = 12'345;

class CardRetriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("capillary_card_retries_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    engine::Options options;
    options.data_dir = dir_ / "data";
    options.history = false;
    ASSERT_TRUE(engine::Engine::open(options, &engine_).is_ok());
    payments::Command open{};
    open.id = 1;
    open.kind = payments::CommandKind::open_user;
    open.principal = payments::principal(payments::PartyKind::platform, 0);
    open.party = user;
    ASSERT_EQ(engine_->execute({open})[0].result, payments::Result::ok);
  }
  void TearDown() override {
    engine_.reset();
    fs::remove_all(dir_);
  }

  // A top-up's charge, as the API logs it before routing picks a channel.
  static CardCall top_up_charge() {
    CardCall call;
    call.command = {};
    call.command.id = 0x5eed;
    call.command.request_hash = 0x1;
    call.command.kind = payments::CommandKind::top_up;
    call.command.principal = payments::principal(payments::PartyKind::user, user);
    call.command.party = user;
    call.command.amount = amount;
    call.card = {"tok-1", "ICBC"};
    call.amount = amount;
    call.reference = charge_reference(call.command.id);
    return call;
  }

  // Writes `call` as a stopped process left it, then starts the retries a new process would.
  void finish_at_start(const CardCall& call) {
    {
      std::unique_ptr<CardCallLog> log;
      ASSERT_TRUE(CardCallLog::open(dir_ / "card-calls", &log).is_ok());
      ASSERT_TRUE(log->put(call.command.id, call).is_ok());
    }
    finish_logged();
  }

  // Starts the retries a new process would, for what the log holds, and waits for them to finish.
  void finish_logged() {
    std::unique_ptr<CardCallLog> log;
    ASSERT_TRUE(CardCallLog::open(dir_ / "card-calls", &log).is_ok());
    {
      CardRetries retries(*engine_, gateway_, *log);
      retries.resume([](const payments::Command&) { return nullptr; });
      const auto deadline = std::chrono::steady_clock::now() + CardRetries::first_retry_at_start + std::chrono::seconds(10);
      while ((wallet() != amount || retries.pending() != 0) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      ASSERT_EQ(retries.pending(), 0u);
    }
    log.reset();
    ASSERT_TRUE(CardCallLog::open(dir_ / "card-calls", &log).is_ok());
    EXPECT_TRUE(log->take_unfinished().empty()) << "a finished call leaves the log";
  }

  std::int64_t balance(payments::AccountKind kind, std::uint64_t id) {
    std::int64_t balance = 0;
    engine_->read([&](const engine::State& state) {
      const ledger::Account* account = state.ledger.find_account(payments::account_id(kind, id));
      if (account != nullptr) balance = account->credits_posted - account->debits_posted;
    });
    return balance;
  }
  std::int64_t wallet() { return balance(payments::AccountKind::wallet, user); }

  fs::path dir_;
  std::unique_ptr<engine::Engine> engine_;
  const channels::BanksConfig config_ = two_channels();
  SystemClock clock_;
  BanksInProcess banks_{config_, clock_};
  channels::Gateway gateway_{config_, banks_, clock_};
};

TEST_F(CardRetriesTest, AChargeNoBankHoldsIsSentRoutedAndJournaledOnce) {
  finish_at_start(top_up_charge());
  EXPECT_EQ(wallet(), amount);
  EXPECT_EQ(banks_.bank(1).approved().size(), 1u) << "routed to the primary channel";
  EXPECT_TRUE(banks_.bank(2).approved().empty());
  EXPECT_EQ(balance(payments::AccountKind::bank_clearing, 1), -amount);
}

TEST_F(CardRetriesTest, AChargeAFallbackChannelHoldsIsTakenFromThereWithoutASecondCharge) {
  const CardCall call = top_up_charge();
  // The stopped process's charge had gone to the fallback, and the bank approved it there.
  ASSERT_EQ(banks_.bank(2).handle(BankApi::debit_card, call.reference, amount).verdict, banksim::Verdict::approved);
  finish_at_start(call);
  EXPECT_EQ(wallet(), amount);
  EXPECT_TRUE(banks_.bank(1).approved().empty()) << "the primary would have charged the card a second time";
  EXPECT_EQ(banks_.bank(2).approved().size(), 1u);
  EXPECT_EQ(balance(payments::AccountKind::bank_clearing, 2), -amount);
}

TEST_F(CardRetriesTest, AChargeLostOnItsWayToTheFallbackIsSentThereAgainNotRoutedAfresh) {
  // Another card's charge takes channel 1's one charge a second, so this one falls back to 2, and
  // the process stops while it is on its way there: channel 2's bank never hears of it.
  ASSERT_EQ(gateway_.charge_blocking({"tok-2", "ICBC"}, 100, "another-charge").channel_id, 1u);
  banks_.lose_calls_to(2);
  const CardCall call = top_up_charge();
  {
    std::unique_ptr<CardCallLog> log;
    ASSERT_TRUE(CardCallLog::open(dir_ / "card-calls", &log).is_ok());
    CardRetries retries(*engine_, gateway_, *log);
    bool answered = false;
    retries.charge(call, [&](channels::GatewayResult, Status) { answered = true; });
    ASSERT_EQ(banks_.lost(), 1) << "the charge left for channel 2";
    EXPECT_FALSE(answered);
  }
  {
    std::unique_ptr<CardCallLog> log;
    ASSERT_TRUE(CardCallLog::open(dir_ / "card-calls", &log).is_ok());
    const auto unfinished = log->take_unfinished();
    ASSERT_EQ(unfinished.size(), 1u);
    EXPECT_EQ(unfinished[0].second.channel, 2u) << "logged with the channel it went to, before it went";
  }
  // Restarted, with channel 1 free again: the charge goes to channel 2, where the first attempt
  // would have arrived had it been late rather than lost, and nowhere else.
  banks_.lose_calls_to(0);
  finish_logged();
  EXPECT_EQ(wallet(), amount);
  ASSERT_EQ(banks_.bank(1).approved().size(), 1u);
  EXPECT_EQ(banks_.bank(1).approved()[0].our_reference, "another-charge") << "a second charge, at another bank";
  EXPECT_EQ(banks_.bank(2).approved().size(), 1u);
  EXPECT_EQ(balance(payments::AccountKind::bank_clearing, 2), -amount);
}

// A charge that cannot be logged is not sent: the gateway withdraws it, and its channel's slot is
// free for the next call.
TEST_F(CardRetriesTest, AChargeThatCannotBeLoggedIsNotSent) {
  std::unique_ptr<CardCallLog> log;
  ASSERT_TRUE(CardCallLog::open(dir_ / "card-calls", &log).is_ok());
  CardRetries retries(*engine_, gateway_, *log);
  channels::GatewayResult result;
  result.outcome = channels::GatewayOutcome::approved;
  gateway_.charge(
      {"tok-1", "ICBC"}, amount, "unlogged", [&](channels::GatewayResult answer) { result = std::move(answer); },
      [](channels::ChannelId) { return false; });
  EXPECT_EQ(result.outcome, channels::GatewayOutcome::withdrawn);
  EXPECT_EQ(result.channel_id, 1u);
  EXPECT_TRUE(banks_.bank(1).approved().empty());
  for (const channels::ApiFlowSnapshot& flow : gateway_.snapshot()) EXPECT_EQ(flow.in_flight, 0u);
}

}  // namespace
}  // namespace capillary::server
