// The load generator's pieces that need no server: pacing, the funding mix, the JSON of steps,
// the answer and order scanners, the latency histogram, the summary and its files, and the HTTP
// response parser.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

#include "cli/http_client.h"
#include "cli/load_plan.h"
#include "cli/load_report.h"

namespace capillary::cli::load {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

std::uint64_t test_seed() {
  const std::uint64_t seed = std::random_device{}();
  std::fprintf(stderr, "seed %llu\n", static_cast<unsigned long long>(seed));
  return seed;
}

TEST(LoadPlan, PacingFollowsTheClockAlone) {
  EXPECT_EQ(due_by(120'000, nanoseconds(0)), 0u);
  EXPECT_EQ(due_by(120'000, milliseconds(1)), 120u);
  EXPECT_EQ(due_by(120'000, milliseconds(2500)), 300'000u);
  EXPECT_EQ(due_by(1'200, milliseconds(5)), 6u);
  EXPECT_EQ(due_by(1'200, std::chrono::microseconds(830)), 0u);  // 0.996 is not yet one
  EXPECT_EQ(due_by(0, milliseconds(10)), 0u);
}

TEST(LoadPlan, EveryFundingAddsUpToTheAmount) {
  const std::uint64_t seed = test_seed();
  std::mt19937_64 random(seed);
  std::array<std::uint32_t, 4> kinds{};
  constexpr int draws = 100'000;
  for (int i = 0; i < draws; ++i) {
    const std::int64_t amount = draw_order_amount(random);
    ASSERT_GE(amount, order_amount_min) << "seed " << seed;
    ASSERT_LE(amount, order_amount_max) << "seed " << seed;
    const FundingKind kind = draw_funding_kind(random);
    ++kinds[static_cast<std::size_t>(kind)];
    const std::int64_t balance = std::uniform_int_distribution<std::int64_t>(0, 3)(random) == 0
                                     ? 0
                                     : std::uniform_int_distribution<std::int64_t>(1, 20'000)(random);
    const Funding funding = split_funding(kind, amount, balance, 77);
    ASSERT_EQ(funding.wallet + funding.red_packet + funding.card +
                  (funding.campaign != 0 ? coupon_value : 0),
              amount)
        << "seed " << seed;
    ASSERT_LE(funding.red_packet, balance) << "seed " << seed;
    ASSERT_GE(funding.wallet, 0) << "seed " << seed;
    if (kind == FundingKind::red_packet && balance == 0) {
      ASSERT_EQ(funding.kind, FundingKind::wallet) << "seed " << seed;
    }
  }
  // The mix within a percent point of its shares over 100,000 draws (about 10 sigma).
  const std::array<std::uint32_t, 4> shares{percent_wallet, percent_coupon, percent_red_packet,
                                            percent_card};
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    EXPECT_NEAR(kinds[i], shares[i] * draws / 100, draws / 100) << "kind " << i << " seed " << seed;
  }
}

TEST(LoadPlan, RedPacketPaymentTakesAQuarterAtMost) {
  const Funding funding = split_funding(FundingKind::red_packet, 10'000, 100'000, 0);
  EXPECT_EQ(funding.red_packet, 2'500);
  EXPECT_EQ(funding.wallet, 7'500);
  const Funding short_balance = split_funding(FundingKind::red_packet, 10'000, 40, 0);
  EXPECT_EQ(short_balance.red_packet, 40);
  EXPECT_EQ(short_balance.wallet, 9'960);
  EXPECT_EQ(short_balance.kind, FundingKind::red_packet);
}

TEST(LoadPlan, StepsAsRequestsAndAsBatchSteps) {
  Step create;
  create.op = StepOp::create_order;
  create.merchant = 50;
  create.user = 1001;
  create.amount = 12'425;
  std::string body;
  append_step_body(create, &body);
  EXPECT_EQ(step_path(create), "/v1/orders");
  EXPECT_EQ(body, R"({"merchant":50,"amount":12425,"buyer":1001})");
  body.clear();
  append_batch_step(create, "k1", &body);
  EXPECT_EQ(body, R"({"op":"create_order","key":"k1","merchant":50,"amount":12425,"buyer":1001})");

  Step pay;
  pay.op = StepOp::pay;
  pay.order = 7;
  pay.user = 1001;
  pay.funding = split_funding(FundingKind::coupon, 12'425, 0, 9);
  body.clear();
  append_batch_step(pay, "k2", &body);
  EXPECT_EQ(step_path(pay), "/v1/orders/7/pay");
  EXPECT_EQ(body,
            R"({"op":"pay","key":"k2","order":7,"buyer":1001,"funding":{"wallet":11925,"campaign":9}})");

  pay.funding = split_funding(FundingKind::card, 12'425, 0, 0);
  pay.bank_reference = 555;
  body.clear();
  append_step_body(pay, &body);
  EXPECT_EQ(body,
            R"({"buyer":1001,"funding":{"wallet":0,"card":12425},)"
            R"("bank":{"channel":3,"reference":"555","outcome":"approved"}})");

  Step cashier;
  cashier.op = StepOp::cashier;
  cashier.order = 7;
  cashier.user = 1001;
  body.clear();
  append_batch_step(cashier, "unused", &body);
  EXPECT_EQ(step_path(cashier), "/v1/orders/7/cashier");
  EXPECT_EQ(body, R"({"op":"cashier","order":7,"buyer":1001})");

  Step top_up;
  top_up.op = StepOp::top_up;
  top_up.user = 1001;
  top_up.amount = 1'000'000;
  top_up.bank_reference = 556;
  body.clear();
  append_batch_step(top_up, "k3", &body);
  EXPECT_EQ(step_path(top_up), "/v1/users/1001/top-ups");
  EXPECT_EQ(body,
            R"({"op":"top_up","key":"k3","user":1001,"amount":1000000,)"
            R"("bank":{"channel":3,"reference":"556","outcome":"approved"}})");

  Step claim;
  claim.op = StepOp::claim_red_packet;
  claim.user = 1002;
  claim.target = 12;
  body.clear();
  append_batch_step(claim, "k4", &body);
  EXPECT_EQ(step_path(claim), "/v1/red-packets/12/claim");
  EXPECT_EQ(body, R"({"op":"claim_red_packet","key":"k4","red_packet":12,"user":1002})");

  Step open;
  open.op = StepOp::open_user;
  open.user = 1003;
  body.clear();
  append_batch_step(open, "k5", &body);
  EXPECT_EQ(step_path(open), "/v1/users");
  EXPECT_EQ(body, R"({"op":"open_user","key":"k5","id":1003,"verified":true})");
  open.op = StepOp::open_merchant;
  open.merchant = 50;
  body.clear();
  append_step_body(open, &body);
  EXPECT_EQ(step_path(open), "/v1/merchants");
  EXPECT_EQ(body, R"({"id":50,"fee_bps":60})");
}

TEST(LoadPlan, AnswersAreReadInOrder) {
  std::vector<StepAnswer> answers;
  ASSERT_TRUE(parse_answers(R"({"result":"ok","value":"42"})", &answers));
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(answers[0].ok());
  EXPECT_EQ(answers[0].value, 42u);

  ASSERT_TRUE(parse_answers(
      R"({"results":[{"result":"ok","value":"7"},{"result":"insufficient_wallet","value":"0",)"
      R"("description":"the wallet balance is below the amount, \"quoted\" [sic], {braced}"},)"
      R"({"result":"ok","value":12425},)"
      R"({"order":"9","state":"awaiting_payment","amount":"100","wallet":"5","red_packet":"0"},)"
      R"({"result":"order_not_found"}]})",
      &answers));
  ASSERT_EQ(answers.size(), 5u);
  EXPECT_EQ(answers[0].value, 7u);
  EXPECT_EQ(answers[1].result, "insufficient_wallet");
  EXPECT_FALSE(answers[1].ok());
  EXPECT_EQ(answers[1].value, 0u);
  EXPECT_EQ(answers[2].value, 12'425u);
  EXPECT_TRUE(answers[3].ok());  // a cashier's view
  EXPECT_EQ(answers[3].value, 9u);
  EXPECT_EQ(answers[4].result, "order_not_found");
  EXPECT_EQ(answers[4].value, 0u);  // not read from a neighbour

  ASSERT_TRUE(parse_answers(R"({"order":"12","state":"awaiting_payment","amount":"1"})", &answers));
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(answers[0].ok());
  EXPECT_EQ(answers[0].value, 12u);

  std::vector<std::string_view> elements;
  ASSERT_TRUE(split_array(R"({"orders":[{"id":"1","funding":{"wallet":"2"}},null,{"id":"3"}]})",
                          "orders", &elements));
  ASSERT_EQ(elements.size(), 3u);
  EXPECT_EQ(elements[0], R"({"id":"1","funding":{"wallet":"2"}})");
  EXPECT_EQ(elements[1], "null");
  EXPECT_EQ(elements[2], R"({"id":"3"})");
  EXPECT_TRUE(split_array(R"({"orders":[]})", "orders", &elements));
  EXPECT_TRUE(elements.empty());
  EXPECT_FALSE(split_array(R"({"orders":[{"id":"1"})", "orders", &elements));
  EXPECT_FALSE(split_array(R"({"results":[]})", "orders", &elements));

  EXPECT_FALSE(parse_answers(R"({"error":{"code":"bad_request"}})", &answers));
  EXPECT_FALSE(parse_answers(R"({"result":"ok)", &answers));
}

TEST(LoadPlan, OrdersReconcileOnlyWithTheirFullAmount) {
  OrderView order;
  ASSERT_TRUE(parse_order(
      R"({"id":"7","merchant":"50","buyer":"1","amount":"12425","state":"paid","held":"12425",)"
      R"("released":"0","fee":"0","refunded":"0"})",
      &order));
  EXPECT_EQ(order.id, 7u);
  EXPECT_EQ(order.state, "paid");
  EXPECT_TRUE(payment_reconciles(order, 12'425));
  EXPECT_FALSE(payment_reconciles(order, 12'424));
  order.held = 12'000;
  EXPECT_FALSE(payment_reconciles(order, 12'425));
  order.state = "released";
  order.released = 12'425;
  EXPECT_TRUE(payment_reconciles(order, 12'425));
  order.state = "awaiting_payment";
  EXPECT_FALSE(payment_reconciles(order, 12'425));
  order.state = "refunded";
  EXPECT_FALSE(payment_reconciles(order, 12'425));
  EXPECT_FALSE(parse_order(R"({"id":"7","amount":"1","held":"1","released":"0"})", &order));
}

TEST(LoadReport, PercentilesWithinTheirBucket) {
  const std::uint64_t seed = test_seed();
  std::mt19937_64 random(seed);
  std::lognormal_distribution<double> latency_us(7.0, 1.2);  // median ~1.1 ms, long tail
  std::vector<std::uint64_t> samples;
  LatencyHistogram histogram;
  for (int i = 0; i < 50'000; ++i) {
    const auto us = static_cast<std::uint64_t>(latency_us(random));
    samples.push_back(us);
    histogram.record(std::chrono::microseconds(us));
  }
  std::sort(samples.begin(), samples.end());
  EXPECT_EQ(histogram.count(), samples.size());
  for (double percent : {1.0, 50.0, 90.0, 99.0, 99.9}) {
    const auto rank = static_cast<std::size_t>(std::ceil(percent / 100 * samples.size())) - 1;
    const double exact_ms = static_cast<double>(samples[rank]) / 1000;
    EXPECT_NEAR(histogram.percentile_ms(percent), exact_ms, exact_ms / 64 + 0.001)
        << "p" << percent << " seed " << seed;
  }
  LatencyHistogram empty;
  EXPECT_EQ(empty.percentile_ms(99), 0);
  empty.record(std::chrono::seconds(3600));  // beyond the max: counted as the max
  EXPECT_NEAR(empty.percentile_ms(50), LatencyHistogram::latency_us_max / 1000.0,
              LatencyHistogram::latency_us_max / 1000.0 / 64);
}

TEST(LoadReport, SummaryRatesCountOnlyTheTimedSeconds) {
  std::vector<Second> series(4);
  series[0].paid = 100;
  series[0].checkouts = 200;
  series[1].paid = 300;
  series[1].checkouts = 400;
  series[1].rejected = 5;
  series[2].paid = 50;  // the drain after a two-second run
  series[2].errors = 1;
  for (int i = 0; i < 99; ++i) series[0].latency.record(std::chrono::microseconds(1000));
  series[3].latency.record(std::chrono::microseconds(40'000));
  const Totals totals = summarize(series, 2);
  EXPECT_EQ(totals.paid_per_s, 200);
  EXPECT_EQ(totals.checkout_per_s, 300);
  EXPECT_EQ(totals.paid, 450u);
  EXPECT_EQ(totals.rejected, 5u);
  EXPECT_EQ(totals.errors, 1u);
  EXPECT_NEAR(totals.p50_ms, 1.0, 1.0 / 64);
  EXPECT_NEAR(totals.p99_ms, 1.0, 1.0 / 64);  // 99 of 100 samples at 1 ms
  EXPECT_EQ(summary_line(totals),
            fmt::format("paid_per_s=200 checkout_per_s=300 p50_ms={:.2f} p99_ms={:.2f} "
                        "rejected=5 errors=1 lost=0",
                        totals.p50_ms, totals.p99_ms));
}

TEST(LoadReport, ReportAndPlotFiles) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("load_test_" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  std::vector<Second> series(3);
  series[1].paid = 60'000;
  series[1].latency.record(std::chrono::milliseconds(12));
  const Totals totals = summarize(series, 3);
  ASSERT_TRUE(write_json_report((dir / "r.json").string(), {{"mode", "batch"}}, series, totals)
                  .is_ok());
  ASSERT_TRUE(write_svg_plot((dir / "p.svg").string(), "12-12-6", series, 3).is_ok());
  std::stringstream json, svg;
  json << std::ifstream(dir / "r.json").rdbuf();
  svg << std::ifstream(dir / "p.svg").rdbuf();
  const std::string report = json.str(), plot = svg.str();
  EXPECT_NE(report.find(R"("mode": "batch")"), std::string::npos);
  EXPECT_NE(report.find(R"({"second": 1, "paid": 60000,)"), std::string::npos);
  EXPECT_TRUE(plot.starts_with("<svg"));
  EXPECT_NE(plot.find("60k"), std::string::npos);  // the throughput axis reaches 60k
  // Paid, checkouts and rejected per second above, p99 below.
  std::size_t polylines = 0;
  for (std::size_t at = plot.find("<polyline"); at != std::string::npos;
       at = plot.find("<polyline", at + 1)) {
    ++polylines;
  }
  EXPECT_EQ(polylines, 4u);
  std::filesystem::remove_all(dir);
  EXPECT_FALSE(write_json_report((dir / "missing" / "r.json").string(), {}, series, totals).is_ok());
}

TEST(HttpClient, ParsesPipelinedResponsesAsTheyArrive) {
  const std::string two =
      "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nServer: capillary\r\n\r\nbody"
      "HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\nConnection: close\r\n"
      "Content-Length: 2\r\n\r\n{}";
  HttpResponse response;
  std::size_t consumed = 0;
  std::string error;
  for (std::size_t cut = 0; cut < two.find("bodyHTTP") + 4; ++cut) {
    ASSERT_EQ(parse_response(std::string_view(two).substr(0, cut), &response, &consumed, &error),
              ParseResult::incomplete)
        << cut;
  }
  ASSERT_EQ(parse_response(two, &response, &consumed, &error), ParseResult::complete);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "body");
  EXPECT_FALSE(response.close);
  ASSERT_EQ(parse_response(std::string_view(two).substr(consumed), &response, &consumed, &error),
            ParseResult::complete);
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.retry_after, std::chrono::seconds(1));
  EXPECT_TRUE(response.close);
  EXPECT_EQ(response.body, "{}");

  EXPECT_EQ(parse_response("HTTP/1.0 200 OK\r\n\r\n", &response, &consumed, &error),
            ParseResult::malformed);
  EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\n\r\n", &response, &consumed, &error),
            ParseResult::malformed);  // no Content-Length
  EXPECT_EQ(error, "response without Content-Length");
  EXPECT_EQ(parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &response,
                           &consumed, &error),
            ParseResult::malformed);
}

TEST(HttpClient, TargetsAreHostAndPort) {
  Target target;
  ASSERT_TRUE(parse_target("127.0.0.1:8080", &target));
  EXPECT_EQ(target.host, "127.0.0.1");
  EXPECT_EQ(target.port, "8080");
  EXPECT_FALSE(parse_target("127.0.0.1", &target));
  EXPECT_FALSE(parse_target(":8080", &target));
  EXPECT_FALSE(parse_target("host:0", &target));
  EXPECT_FALSE(parse_target("host:65536", &target));
  EXPECT_FALSE(parse_target("host:80x", &target));
}

}  // namespace
}  // namespace capillary::cli::load
