#include "channels/router.h"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <vector>

#include "channels/config.h"
#include "channels/gateway.h"
#include "core/clock.h"

namespace capillary::channels {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t start_ns = 1'700'000'000ull * ns_per_s;

// Three channels: ICBC goes to 1 then falls back to 2 then 3; CMB only to 3. Channel 1 takes
// two calls a second, channel 2 one at a time.
constexpr std::string_view config_json = R"({
  "seed": 7,
  "breaker": {"window_s": 10, "calls_min": 4, "error_rate_ppm_max": 500000,
              "latency_ms_p99_max": 500, "open_s": 30, "half_open_probes": 1},
  "channels": [
    {"id": 1, "name": "icbc-direct",
     "simulation": {"capacity_tps": 100, "latency_ms_median": 20, "latency_ms_p99": 80,
                    "error_ppm": 0, "decline_ppm": 0},
     "debit_card": {"rate_per_s": 2, "burst": 2, "concurrency_max": 100},
     "credit_card": {"rate_per_s": 100, "burst": 100, "concurrency_max": 100}},
    {"id": 2, "name": "unionpay",
     "simulation": {"capacity_tps": 100, "latency_ms_median": 20, "latency_ms_p99": 80,
                    "error_ppm": 0, "decline_ppm": 0},
     "debit_card": {"rate_per_s": 100, "burst": 100, "concurrency_max": 1},
     "credit_card": {"rate_per_s": 100, "burst": 100, "concurrency_max": 100}},
    {"id": 3, "name": "netsunion",
     "simulation": {"capacity_tps": 100, "latency_ms_median": 20, "latency_ms_p99": 80,
                    "error_ppm": 0, "decline_ppm": 0},
     "debit_card": {"rate_per_s": 100, "burst": 100, "concurrency_max": 100},
     "credit_card": {"rate_per_s": 100, "burst": 100, "concurrency_max": 100}}
  ],
  "routes": [{"bank_code": "ICBC", "channels": [1, 2, 3]},
             {"bank_code": "CMB", "channels": [3]}]
})";

TEST(BanksConfig, ParsesChannelsRoutesAndPolicy) {
  const BanksConfig config = parse_banks_config(config_json);
  EXPECT_EQ(config.seed, 7u);
  ASSERT_EQ(config.channels.size(), 3u);
  EXPECT_EQ(config.channels[1].name, "unionpay");
  EXPECT_EQ(config.channels[1].limits[0].concurrency_max, 1u);
  EXPECT_EQ(config.channels[0].simulation.latency_p99, 80ms);
  EXPECT_EQ(config.breaker.open_duration, 30s);
  EXPECT_EQ(config.breaker.latency_p99_max, 500ms);
  ASSERT_EQ(config.routes.size(), 2u);
  EXPECT_EQ(config.routes[0].channels, (std::vector<ChannelId>{1, 2, 3}));
}

TEST(BanksConfig, RejectsInconsistentFiles) {
  auto with = [](std::string_view from, std::string_view to) {
    std::string json(config_json);
    const std::size_t at = json.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return json.replace(at, from.size(), to);
  };
  EXPECT_THROW(parse_banks_config("{"), std::runtime_error);
  EXPECT_THROW(parse_banks_config(with("[1, 2, 3]", "[1, 2, 9]")), std::runtime_error);
  EXPECT_THROW(parse_banks_config(with("[1, 2, 3]", "[1, 1]")), std::runtime_error);
  EXPECT_THROW(parse_banks_config(with("\"id\": 2", "\"id\": 1")), std::runtime_error);
  EXPECT_THROW(parse_banks_config(with("\"CMB\"", "\"ICBC\"")), std::runtime_error);
  EXPECT_THROW(parse_banks_config(with("\"latency_ms_p99\": 80", "\"latency_ms_p99\": 5")),
               std::runtime_error);
  EXPECT_THROW(parse_banks_config(with("\"rate_per_s\": 2,", "\"rate_per_s\": 0,")),
               std::runtime_error);
  try {
    parse_banks_config(with("\"burst\": 2,", ""));
    FAIL() << "a channel without a burst was accepted";
  } catch (const std::runtime_error& error) {
    EXPECT_STREQ(error.what(),
                 "banks config: channel 1 debit_card: `burst` must be a non-negative integer");
  }
}

// The shipped default: over a hundred channels, every bank code with fallbacks, all admitting.
TEST(BanksConfig, TheDefaultConfigRoutesEveryBankWithFallbacks) {
  const BanksConfig config = load_banks_config(CAPILLARY_SOURCE_DIR "/config/banks.json");
  EXPECT_GE(config.channels.size(), 100u);
  ManualClock clock(start_ns);
  Router router(config, clock.now_ns());
  for (const RouteConfig& route : config.routes) {
    EXPECT_GE(route.channels.size(), 2u) << route.bank_code;
    const Routed routed = router.route(route.bank_code, BankApi::debit_card, clock.now_ns());
    EXPECT_EQ(routed.channel_id, route.channels.front()) << route.bank_code;
  }
}

BankResponse answer(BankOutcome outcome) {
  BankResponse response;
  response.outcome = outcome;
  response.failure = outcome == BankOutcome::failed ? FailureKind::error : FailureKind::none;
  response.latency = 1ms;
  return response;
}

TEST(Router, FallsBackWhenThePrimaryIsRateLimitedAndReportsWhenAllRefuse) {
  const BanksConfig config = parse_banks_config(config_json);
  ManualClock clock(start_ns);
  Router router(config, clock.now_ns());
  // Channel 1 has two tokens.
  std::vector<Routed> open;
  for (ChannelId expected : {1u, 1u, 2u, 3u}) {
    const Routed routed = router.route("ICBC", BankApi::debit_card, clock.now_ns());
    ASSERT_TRUE(routed.admission.admitted());
    EXPECT_EQ(routed.channel_id, expected);
    open.push_back(routed);
  }
  // The credit side of channel 1 has its own bucket.
  EXPECT_EQ(router.route("ICBC", BankApi::credit_card, clock.now_ns()).channel_id, 1u);
  EXPECT_EQ(router.route("CMB", BankApi::debit_card, clock.now_ns()).channel_id, 3u);
  const Routed none = router.route("ABC", BankApi::debit_card, clock.now_ns());
  EXPECT_EQ(none.admission.rejection, Rejection::no_route);
  EXPECT_EQ(none.channel_id, 0u);
  // Channel 2 is free again once its one call completes.
  open[2].flow->complete(open[2].admission, clock.now_ns(), answer(BankOutcome::approved));
  EXPECT_EQ(router.route("ICBC", BankApi::debit_card, clock.now_ns()).channel_id, 2u);
  // Every channel refuses: 1 has no token, 2 has a call out, 3 ... fill it via its breaker.
  for (int i = 0; i < 4; ++i) {
    const Routed routed = router.route("CMB", BankApi::debit_card, clock.now_ns());
    ASSERT_EQ(routed.channel_id, 3u);
    routed.flow->complete(routed.admission, clock.now_ns(), answer(BankOutcome::failed));
  }
  ASSERT_EQ(router.flow(3, BankApi::debit_card)->snapshot(clock.now_ns()).breaker.state,
            BreakerState::open);
  const Routed refused = router.route("ICBC", BankApi::debit_card, clock.now_ns());
  EXPECT_FALSE(refused.admission.admitted());
  EXPECT_EQ(refused.admission.rejection, Rejection::rate_limited);  // the primary's reason
  EXPECT_EQ(refused.admission.retry_after_s, 1u);                   // the soonest of the three
  EXPECT_EQ(router.snapshot(clock.now_ns()).size(), 6u);
}

// Answers every call at once with a preset answer, remembering what it was asked.
class ScriptedConnector final : public Connector {
 public:
  void debit_card(const BankRequest& request, BankCallback callback) override {
    requests.push_back(request);
    callback(next);
  }
  void credit_card(const BankRequest& request, BankCallback callback) override {
    requests.push_back(request);
    callback(next);
  }
  void query(ChannelId channel_id, const std::string& reference, BankCallback callback) override {
    queries.emplace_back(channel_id, reference);
    callback(next);
  }
  BankResponse next = answer(BankOutcome::approved);
  std::vector<BankRequest> requests;
  std::vector<std::pair<ChannelId, std::string>> queries;
};

TEST(Gateway, ReturnsTheBankAnswerOrAFastRejection) {
  const BanksConfig config = parse_banks_config(config_json);
  ManualClock clock(start_ns);
  ScriptedConnector bank;
  Gateway gateway(config, bank, clock);
  bank.next.bank_reference = "B1";
  GatewayResult result = gateway.charge_blocking({"tok-1", "ICBC"}, 12'34, "pay-1");
  EXPECT_EQ(result.outcome, GatewayOutcome::approved);
  EXPECT_EQ(result.channel_id, 1u);
  EXPECT_EQ(result.bank_reference, "B1");
  ASSERT_EQ(bank.requests.size(), 1u);
  EXPECT_EQ(bank.requests[0].amount_fen, 12'34);
  EXPECT_EQ(bank.requests[0].reference, "pay-1");
  EXPECT_EQ(bank.requests[0].channel_id, 1u);

  bank.next = answer(BankOutcome::declined);
  bank.next.decline_reason = "insufficient_funds";
  result = gateway.payout_blocking({"tok-1", "CMB"}, 5'00, "wd-1");
  EXPECT_EQ(result.outcome, GatewayOutcome::declined);
  EXPECT_EQ(result.decline_reason, "insufficient_funds");
  EXPECT_EQ(result.channel_id, 3u);

  result = gateway.charge_blocking({"tok-1", "BOC"}, 1, "pay-2");
  EXPECT_EQ(result.outcome, GatewayOutcome::rejected);
  EXPECT_EQ(result.rejection, Rejection::no_route);
  EXPECT_EQ(bank.requests.size(), 2u);  // nothing sent

  const std::string metrics = gateway.render_metrics();
  EXPECT_NE(metrics.find("capillary_channel_calls_total{channel=\"3\",api=\"credit_card\","
                         "outcome=\"declined\"} 1\n"),
            std::string::npos);
  EXPECT_NE(metrics.find("capillary_channel_in_flight{channel=\"1\",api=\"debit_card\"} 0\n"),
            std::string::npos);
}

// A refund is not routed: it goes back on the channel that charged the card, through that
// channel's credit_card flow control, flagged as a refund for the bank's statement.
TEST(Gateway, RefundsOnTheChannelThatCharged) {
  const BanksConfig config = parse_banks_config(config_json);
  ManualClock clock(start_ns);
  ScriptedConnector bank;
  Gateway gateway(config, bank, clock);
  bank.next.bank_reference = "R1";
  std::vector<GatewayResult> results;
  const auto keep = [&results](GatewayResult result) { results.push_back(std::move(result)); };
  gateway.refund(2, {"order-7", "ICBC"}, 3'00, "refund-1", keep);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, GatewayOutcome::approved);
  EXPECT_EQ(results[0].channel_id, 2u);
  EXPECT_EQ(results[0].bank_reference, "R1");
  ASSERT_EQ(bank.requests.size(), 1u);
  EXPECT_EQ(bank.requests[0].channel_id, 2u);
  EXPECT_TRUE(bank.requests[0].refund);
  EXPECT_EQ(bank.requests[0].amount_fen, 3'00);
  EXPECT_EQ(bank.requests[0].reference, "refund-1");

  gateway.refund(9, {"order-7", "ICBC"}, 1, "refund-2", keep);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[1].outcome, GatewayOutcome::rejected);
  EXPECT_EQ(results[1].rejection, Rejection::no_route);
  EXPECT_EQ(bank.requests.size(), 1u);  // nothing sent
  EXPECT_NE(gateway.render_metrics().find(
                "capillary_channel_calls_total{channel=\"2\",api=\"credit_card\","
                "outcome=\"approved\"} 1\n"),
            std::string::npos);
}

// A charge that timed out may have been made: its retry goes to the same channel or waits, even
// when that channel is at its limit and a fallback would take it. The bank's answer, to a call or
// a query, frees the reference.
TEST(Gateway, ATimedOutReferenceStaysOnItsChannelUntilTheBankAnswers) {
  const BanksConfig config = parse_banks_config(config_json);
  ManualClock clock(start_ns);
  ScriptedConnector bank;
  Gateway gateway(config, bank, clock);
  BankResponse timed_out = answer(BankOutcome::failed);
  timed_out.failure = FailureKind::timeout;
  bank.next = timed_out;
  EXPECT_EQ(gateway.charge_blocking({"tok-1", "ICBC"}, 5'00, "pay-t").channel_id, 1u);
  bank.next = answer(BankOutcome::approved);
  EXPECT_EQ(gateway.charge_blocking({"tok-2", "ICBC"}, 1'00, "other-1").channel_id, 1u);
  // Channel 1 has spent its two calls this second: a new reference falls back to channel 2...
  EXPECT_EQ(gateway.charge_blocking({"tok-3", "ICBC"}, 1'00, "other-2").channel_id, 2u);
  // ...the timed-out one waits for channel 1, and nothing is sent.
  GatewayResult retry = gateway.charge_blocking({"tok-1", "ICBC"}, 5'00, "pay-t");
  EXPECT_EQ(retry.outcome, GatewayOutcome::rejected);
  EXPECT_EQ(retry.rejection, Rejection::rate_limited);
  EXPECT_EQ(bank.requests.size(), 3u);
  clock.advance(1s);
  retry = gateway.charge_blocking({"tok-1", "ICBC"}, 5'00, "pay-t");
  EXPECT_EQ(retry.outcome, GatewayOutcome::approved);
  EXPECT_EQ(retry.channel_id, 1u);
  // Answered: the reference is free, and routes like any other.
  EXPECT_EQ(gateway.charge_blocking({"tok-2", "ICBC"}, 1'00, "other-3").channel_id, 1u);
  EXPECT_EQ(gateway.charge_blocking({"tok-1", "ICBC"}, 5'00, "pay-t").channel_id, 2u);

  // A charge sent again goes to the channel named, whatever routing would pick.
  bank.next = answer(BankOutcome::approved);
  gateway.call_on(3, BankApi::debit_card, {"tok-1", "ICBC"}, 5'00, "pay-again", [](GatewayResult) {});
  EXPECT_EQ(bank.requests.back().channel_id, 3u);
  EXPECT_EQ(bank.requests.back().reference, "pay-again");

  // A payout on a named channel times out; the bank, asked, holds no such operation.
  bank.next = timed_out;
  gateway.call_on(3, BankApi::credit_card, {"tok-9", "CMB"}, 7'00, "wd-t", [](GatewayResult) {});
  EXPECT_EQ(bank.requests.back().channel_id, 3u);
  bank.next = answer(BankOutcome::failed);
  bank.next.failure = FailureKind::unknown_reference;
  const GatewayResult asked = gateway.query_blocking(3, "wd-t");
  EXPECT_EQ(asked.failure, FailureKind::unknown_reference);
  EXPECT_EQ(asked.channel_id, 3u);
  ASSERT_EQ(bank.queries.size(), 1u);
  EXPECT_EQ(bank.queries[0], (std::pair<ChannelId, std::string>{3, "wd-t"}));
}

TEST(Gateway, AReferencePinnedFromAnEarlierProcessRoutesToItsChannelUntilAnswered) {
  const BanksConfig config = parse_banks_config(config_json);
  ManualClock clock(start_ns);
  ScriptedConnector bank;
  Gateway gateway(config, bank, clock);
  // Routing would pick channel 1 for ICBC; the earlier process sent this charge to channel 2.
  gateway.pin("pay-before", 2);
  bank.next = answer(BankOutcome::approved);
  EXPECT_EQ(gateway.charge_blocking({"tok-1", "ICBC"}, 5'00, "pay-before").channel_id, 2u);
  // Answered there: the reference routes like any other.
  EXPECT_EQ(gateway.charge_blocking({"tok-1", "ICBC"}, 5'00, "pay-before").channel_id, 1u);
}

}  // namespace
}  // namespace capillary::channels
