// The real bank simulator on a free port, driven over HTTP by channels::HttpConnector and by the
// gateway in front of it.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "banksim/server.h"
#include "channels/config.h"
#include "channels/gateway.h"
#include "channels/http_connector.h"
#include "channels/wire.h"
#include "core/clock.h"

namespace capillary::banksim {
namespace {

using namespace std::chrono_literals;
using channels::BankApi;
using channels::BankOutcome;
using channels::BankRequest;
using channels::BankResponse;
using channels::FailureKind;

constexpr std::uint64_t seed = 20151111;

// 1: fast and roomy, 5% errors and 10% declines. 2: 40 TPS. 3: slower than any test timeout.
// 4: a roomy bank behind a gateway limit of 5 calls a second.
constexpr std::string_view config_json = R"({
  "seed": 20151111,
  "breaker": {"window_s": 10, "calls_min": 1000000, "error_rate_ppm_max": 1000000,
              "latency_ms_p99_max": 60000, "open_s": 5, "half_open_probes": 1},
  "channels": [
    {"id": 1, "name": "roomy",
     "simulation": {"capacity_tps": 1000000, "latency_ms_median": 1, "latency_ms_p99": 5,
                    "error_ppm": 50000, "decline_ppm": 100000},
     "debit_card": {"rate_per_s": 100000, "burst": 100000, "concurrency_max": 1000},
     "credit_card": {"rate_per_s": 100000, "burst": 100000, "concurrency_max": 1000}},
    {"id": 2, "name": "small",
     "simulation": {"capacity_tps": 40, "latency_ms_median": 1, "latency_ms_p99": 2,
                    "error_ppm": 0, "decline_ppm": 0},
     "debit_card": {"rate_per_s": 100000, "burst": 100000, "concurrency_max": 1000},
     "credit_card": {"rate_per_s": 100000, "burst": 100000, "concurrency_max": 1000}},
    {"id": 3, "name": "slow",
     "simulation": {"capacity_tps": 1000, "latency_ms_median": 2000, "latency_ms_p99": 3000,
                    "error_ppm": 0, "decline_ppm": 0},
     "debit_card": {"rate_per_s": 100000, "burst": 100000, "concurrency_max": 1000},
     "credit_card": {"rate_per_s": 100000, "burst": 100000, "concurrency_max": 1000}},
    {"id": 4, "name": "guarded",
     "simulation": {"capacity_tps": 1000000, "latency_ms_median": 1, "latency_ms_p99": 2,
                    "error_ppm": 0, "decline_ppm": 0},
     "debit_card": {"rate_per_s": 5, "burst": 3, "concurrency_max": 1000},
     "credit_card": {"rate_per_s": 5, "burst": 3, "concurrency_max": 1000}}
  ],
  "routes": [{"bank_code": "GUARD", "channels": [4]}]
})";

class BankSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<BankSimServer>(config_, BankSimOptions{}, clock_);
    ASSERT_TRUE(server_->start().is_ok());
    channels::HttpConnectorOptions options;
    options.port = server_->port();
    options.connections_max = 32;
    options.timeout = 10s;  // generous: a loaded machine must not turn answers into timeouts
    connector_ = std::make_unique<channels::HttpConnector>(options);
  }

  // Sends every request, at most `window` at a time, and returns the answers in order.
  std::vector<BankResponse> send_all(BankApi api, const std::vector<BankRequest>& requests,
                                     std::size_t window) {
    std::vector<BankResponse> responses(requests.size());
    std::mutex mutex;
    std::condition_variable changed;
    std::size_t outstanding = 0, done = 0;
    for (std::size_t i = 0; i < requests.size(); ++i) {
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return outstanding < window; });
        ++outstanding;
      }
      channels::call(*connector_, api, requests[i], [&, i](BankResponse response) {
        std::lock_guard lock(mutex);
        responses[i] = std::move(response);
        --outstanding;
        ++done;
        changed.notify_all();
      });
    }
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return done == requests.size(); });
    return responses;
  }

  static std::vector<BankRequest> requests(channels::ChannelId channel, std::string_view prefix,
                                           int count) {
    std::vector<BankRequest> out;
    for (int i = 0; i < count; ++i) {
      out.push_back({channel, "tok-" + std::to_string(i % 97), "ICBC", 100 + i,
                     std::string(prefix) + std::to_string(i)});
    }
    return out;
  }

  // Statement lines keyed by our reference: {bank reference, amount, kind}.
  std::map<std::string, std::string> statement(channels::ChannelId channel) {
    std::string csv;
    EXPECT_TRUE(connector_->fetch_statement(channel, &csv).is_ok());
    std::istringstream lines(csv);
    std::string line;
    std::getline(lines, line);
    EXPECT_EQ(line + "\n", channels::wire::statement_header);
    std::map<std::string, std::string> out;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string date, bank_reference, our_reference, rest;
      std::getline(fields, date, ',');
      std::getline(fields, bank_reference, ',');
      std::getline(fields, our_reference, ',');
      std::getline(fields, rest);
      EXPECT_EQ(date.size(), 10u) << line;
      EXPECT_TRUE(out.emplace(our_reference, bank_reference + "," + rest).second)
          << "listed twice: " << line;
    }
    return out;
  }

  const channels::BanksConfig config_ = channels::parse_banks_config(config_json);
  SystemClock clock_;
  std::unique_ptr<BankSimServer> server_;
  std::unique_ptr<channels::HttpConnector> connector_;
};

TEST_F(BankSimTest, RatesMatchTheConfigAndTheStatementListsExactlyTheApproved) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  constexpr int calls = 4000;
  const auto sent = requests(1, "pay-", calls);
  const auto answers = send_all(BankApi::debit_card, sent, 32);
  std::map<std::string, std::string> approved;
  int declined = 0, errors = 0;
  for (int i = 0; i < calls; ++i) {
    const BankResponse& answer = answers[i];
    if (answer.outcome == BankOutcome::approved) {
      approved.emplace(sent[i].reference, answer.bank_reference + "," +
                                              std::to_string(sent[i].amount_fen) + ",debit_card");
    }
    declined += answer.outcome == BankOutcome::declined;
    if (answer.outcome == BankOutcome::failed) {
      EXPECT_EQ(answer.failure, FailureKind::error) << channels::name(answer.failure);
      ++errors;
    }
  }
  // About four binomial standard deviations around 5% and 10% of 4000.
  EXPECT_NEAR(errors, 200, 60);
  EXPECT_NEAR(declined, 400, 80);
  EXPECT_EQ(statement(1), approved);
  // Sent again, an approved or declined reference is the same operation with the same answer and
  // no new statement line; one that met an error is tried afresh and may be approved now.
  const auto again = send_all(BankApi::debit_card, sent, 32);
  int retried_approved = 0;
  for (int i = 0; i < calls; ++i) {
    if (answers[i].outcome == BankOutcome::failed) {
      if (again[i].outcome != BankOutcome::approved) continue;
      approved.emplace(sent[i].reference, again[i].bank_reference + "," +
                                              std::to_string(sent[i].amount_fen) + ",debit_card");
      ++retried_approved;
      continue;
    }
    EXPECT_EQ(again[i].outcome, answers[i].outcome);
    EXPECT_EQ(again[i].bank_reference, answers[i].bank_reference);
  }
  EXPECT_GT(retried_approved, errors / 2);
  EXPECT_EQ(statement(1), approved);
  EXPECT_EQ(server_->bank(1)->approved().size(), approved.size());
  EXPECT_EQ(connector_->in_flight(), 0u);
}

TEST_F(BankSimTest, CapacityIsEnforcedWith503) {
  const auto started = std::chrono::steady_clock::now();
  const auto answers = send_all(BankApi::debit_card, requests(2, "cap-", 300), 16);
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  int served = 0, overloaded = 0;
  for (const BankResponse& answer : answers) {
    served += answer.outcome == BankOutcome::approved;
    overloaded += answer.failure == FailureKind::overloaded;
  }
  EXPECT_EQ(served + overloaded, 300);
  // A burst of 4 plus 40 a second, with a token of slack for the boundaries.
  EXPECT_LE(served, 4 + 40 * elapsed_s + 1) << "elapsed " << elapsed_s << " s";
  EXPECT_GE(served, 4);
  EXPECT_GT(overloaded, 0);
  EXPECT_EQ(statement(2).size(), static_cast<std::size_t>(served));
}

TEST_F(BankSimTest, ASlowBankTimesOutAndTheRetryIsTheSameOperation) {
  channels::HttpConnectorOptions options;
  options.port = server_->port();
  options.timeout = 100ms;
  channels::HttpConnector impatient(options);
  const BankRequest request{3, "tok-1", "ICBC", 9'99, "slow-1"};
  const BankResponse answer = channels::call_blocking(impatient, BankApi::credit_card, request);
  EXPECT_EQ(answer.outcome, BankOutcome::failed);
  EXPECT_EQ(answer.failure, FailureKind::timeout);
  EXPECT_GE(answer.latency, 100ms);
  EXPECT_LT(answer.latency, 1s);
  // The bank acted anyway; asked, it says so at once, and the retry with the same reference
  // returns that operation.
  const auto statement_after_timeout = statement(3);
  ASSERT_EQ(statement_after_timeout.size(), 1u);
  const BankResponse asked = channels::query_blocking(impatient, 3, "slow-1");
  ASSERT_EQ(asked.outcome, BankOutcome::approved);
  EXPECT_EQ(statement_after_timeout.at("slow-1"), asked.bank_reference + ",999,credit_card");
  const BankResponse stranger = channels::query_blocking(impatient, 3, "never-sent");
  EXPECT_EQ(stranger.outcome, BankOutcome::failed);
  EXPECT_EQ(stranger.failure, FailureKind::unknown_reference);
  EXPECT_EQ(channels::query_blocking(impatient, 3, "bad\"ref").failure, FailureKind::error);
  EXPECT_EQ(channels::query_blocking(impatient, 999, "slow-1").failure, FailureKind::error);
  channels::HttpConnectorOptions patient = options;
  patient.timeout = 10s;
  channels::HttpConnector retry(patient);
  const BankResponse retried = channels::call_blocking(retry, BankApi::credit_card, request);
  ASSERT_EQ(retried.outcome, BankOutcome::approved);
  EXPECT_EQ(statement_after_timeout.at("slow-1"), retried.bank_reference + ",999,credit_card");
  EXPECT_EQ(statement(3).size(), 1u);
}

TEST_F(BankSimTest, TheGatewayRejectsFastInsteadOfOverloadingTheBank) {
  channels::Gateway gateway(config_, *connector_, clock_);
  int approved = 0, rejected = 0;
  std::uint32_t retry_after_s = 0;
  for (int i = 0; i < 20; ++i) {
    const auto result = gateway.charge_blocking({"tok-1", "GUARD"}, 50, "g-" + std::to_string(i));
    if (result.outcome == channels::GatewayOutcome::approved) {
      ++approved;
      EXPECT_EQ(result.channel_id, 4u);
    } else {
      ASSERT_EQ(result.outcome, channels::GatewayOutcome::rejected);
      EXPECT_EQ(result.rejection, channels::Rejection::rate_limited);
      retry_after_s = result.retry_after_s;
      ++rejected;
    }
  }
  // Twenty calls in far less than the 3.4 s the bucket needs to refill them.
  EXPECT_GE(approved, 3);
  EXPECT_LT(approved, 20);
  EXPECT_EQ(approved + rejected, 20);
  EXPECT_EQ(retry_after_s, 1u);
  EXPECT_EQ(statement(4).size(), static_cast<std::size_t>(approved));
  const std::string metrics = gateway.render_metrics();
  EXPECT_NE(metrics.find("capillary_channel_rejections_total{channel=\"4\",api=\"debit_card\","
                         "reason=\"rate_limited\"} " +
                         std::to_string(rejected) + "\n"),
            std::string::npos)
      << metrics;
}

}  // namespace
}  // namespace capillary::banksim
