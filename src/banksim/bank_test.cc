#include "banksim/bank.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "channels/config.h"
#include "core/clock.h"

namespace capillary::banksim {
namespace {

using namespace std::chrono_literals;
using channels::BankApi;

// 2026-11-11 00:00:00 UTC.
constexpr std::uint64_t double_eleven_ns = 1'794'355'200ull * ns_per_s;

channels::ChannelConfig channel(std::uint32_t capacity_tps) {
  channels::ChannelConfig config;
  config.id = 7;
  config.name = "test-bank";
  config.simulation.capacity_tps = capacity_tps;
  config.simulation.latency_median = 20ms;
  config.simulation.latency_p99 = 200ms;
  config.simulation.error_ppm = 50'000;
  config.simulation.decline_ppm = 100'000;
  return config;
}

// A seed from the environment when replaying a failure, else a fresh one; printed on failure.
std::uint64_t test_seed() {
  if (const char* text = std::getenv("CAPILLARY_TEST_SEED"))
    return std::strtoull(text, nullptr, 10);
  return std::random_device{}();
}

TEST(SimulatedBank, DrawsTheConfiguredRatesAndLatencies) {
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (replay with CAPILLARY_TEST_SEED)");
  ManualClock clock(double_eleven_ns);
  SimulatedBank bank(channel(channels::rate_per_s_max), seed, clock);
  constexpr int calls = 40'000;
  int approved = 0, declined = 0, errors = 0;
  std::vector<std::int64_t> delays_us;
  for (int i = 0; i < calls; ++i) {
    const Decision decision = bank.handle(BankApi::debit_card, "ref-" + std::to_string(i), 100);
    approved += decision.verdict == Verdict::approved;
    declined += decision.verdict == Verdict::declined;
    errors += decision.verdict == Verdict::error;
    delays_us.push_back(decision.delay.count());
    clock.advance(1ms);
  }
  // Binomial tolerances of about four standard deviations.
  EXPECT_NEAR(errors, calls * 0.05, 180);
  EXPECT_NEAR(declined, calls * 0.10, 240);
  EXPECT_EQ(approved + declined + errors, calls);
  std::sort(delays_us.begin(), delays_us.end());
  EXPECT_NEAR(static_cast<double>(delays_us[calls / 2]), 20'000, 1'000);
  EXPECT_NEAR(static_cast<double>(delays_us[calls * 99 / 100]), 200'000, 20'000);
  EXPECT_EQ(bank.approved().size(), static_cast<std::size_t>(approved));
}

TEST(SimulatedBank, SameSeedSameAnswersWhateverTheOrder) {
  ManualClock clock(double_eleven_ns);
  SimulatedBank forward(channel(10'000), 42, clock);
  SimulatedBank backward(channel(10'000), 42, clock);
  SimulatedBank other_seed(channel(10'000), 43, clock);
  constexpr int calls = 200;
  std::vector<Decision> a(calls), b(calls);
  for (int i = 0; i < calls; ++i) a[i] = forward.handle(BankApi::debit_card, std::to_string(i), 5);
  for (int i = calls - 1; i >= 0; --i) {
    b[i] = backward.handle(BankApi::debit_card, std::to_string(i), 5);
  }
  int differences = 0;
  for (int i = 0; i < calls; ++i) {
    EXPECT_EQ(a[i].verdict, b[i].verdict);
    EXPECT_EQ(a[i].bank_reference, b[i].bank_reference);
    EXPECT_EQ(a[i].delay, b[i].delay);
    const Decision c = other_seed.handle(BankApi::debit_card, std::to_string(i), 5);
    differences += c.bank_reference != a[i].bank_reference || c.delay != a[i].delay;
  }
  EXPECT_GT(differences, calls * 9 / 10);
}

TEST(SimulatedBank, ARepeatedReferenceIsTheSameOperation) {
  ManualClock clock(double_eleven_ns);
  SimulatedBank bank(channel(10'000), 1, clock);
  // Find a reference the bank approves, one it declines and one that met an error.
  std::string approved_ref, declined_ref, error_ref;
  for (int i = 0; approved_ref.empty() || declined_ref.empty() || error_ref.empty(); ++i) {
    const std::string reference = "pay-" + std::to_string(i);
    const Decision decision = bank.handle(BankApi::debit_card, reference, 1'00);
    if (decision.verdict == Verdict::approved && approved_ref.empty()) approved_ref = reference;
    if (decision.verdict == Verdict::declined && declined_ref.empty()) declined_ref = reference;
    if (decision.verdict == Verdict::error && error_ref.empty()) error_ref = reference;
  }
  // Asked what it did: the operation as it answered it; nothing for an error or a stranger.
  const std::optional<Decision> found = bank.find(approved_ref);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->verdict, Verdict::approved);
  EXPECT_EQ(found->delay.count(), 0);
  EXPECT_EQ(bank.find(declined_ref)->verdict, Verdict::declined);
  EXPECT_FALSE(bank.find(error_ref).has_value());
  EXPECT_FALSE(bank.find("never-sent").has_value());
  const std::size_t operations = bank.approved().size();
  const Decision first = bank.handle(BankApi::debit_card, approved_ref, 1'00);
  const Decision again = bank.handle(BankApi::debit_card, approved_ref, 1'00);
  EXPECT_EQ(first.verdict, Verdict::approved);
  EXPECT_EQ(again.bank_reference, first.bank_reference);
  EXPECT_EQ(found->bank_reference, first.bank_reference);
  EXPECT_EQ(again.delay.count(), 0);  // looked up, not decided again
  EXPECT_EQ(bank.handle(BankApi::debit_card, declined_ref, 1'00).verdict, Verdict::declined);
  EXPECT_EQ(bank.approved().size(), operations);
  const Decision conflict = bank.handle(BankApi::debit_card, approved_ref, 2'00);
  EXPECT_EQ(conflict.verdict, Verdict::declined);
  EXPECT_EQ(conflict.decline_reason, "reference_conflict");
  EXPECT_EQ(bank.handle(BankApi::credit_card, approved_ref, 1'00).decline_reason,
            "reference_conflict");
  EXPECT_EQ(bank.approved().size(), operations);
}

TEST(SimulatedBank, RefusesPastItsCapacity) {
  ManualClock clock(double_eleven_ns);
  SimulatedBank bank(channel(100), 1, clock);  // 100 TPS, a burst of 10
  int refused = 0;
  for (int i = 0; i < 15; ++i) {
    refused += bank.handle(BankApi::debit_card, "a" + std::to_string(i), 1).verdict ==
               Verdict::over_capacity;
  }
  EXPECT_EQ(refused, 5);
  clock.advance(50ms);  // five more tokens
  refused = 0;
  for (int i = 0; i < 6; ++i) {
    refused += bank.handle(BankApi::debit_card, "b" + std::to_string(i), 1).verdict ==
               Verdict::over_capacity;
  }
  EXPECT_EQ(refused, 1);
}

TEST(SimulatedBank, StatementListsApprovedOperationsInOrder) {
  ManualClock clock(double_eleven_ns + 3600 * ns_per_s);
  channels::ChannelConfig config = channel(10'000);
  config.simulation.error_ppm = 0;
  config.simulation.decline_ppm = 0;
  SimulatedBank bank(config, 9, clock);
  const Decision top_up = bank.handle(BankApi::debit_card, "topup-1", 12'34);
  clock.advance(std::chrono::hours(24));
  const Decision withdrawal = bank.handle(BankApi::credit_card, "wd-1", 5'00);
  const Decision refund = bank.handle(BankApi::credit_card, "refund-1", 2'00, true);
  EXPECT_EQ(bank.statement_csv(),
            "date,bank_reference,our_reference,amount_fen,kind\n"
            "2026-11-11," +
                top_up.bank_reference +
                ",topup-1,1234,debit_card\n"
                "2026-11-12," +
                withdrawal.bank_reference +
                ",wd-1,500,credit_card\n"
                "2026-11-12," +
                refund.bank_reference + ",refund-1,200,refund\n");
  EXPECT_TRUE(top_up.bank_reference.starts_with("B007-"));
  // A refund is its own kind of operation: the same reference as a payout is a conflict, and
  // resent as a refund it is the same operation, listed once.
  EXPECT_EQ(bank.handle(BankApi::credit_card, "refund-1", 2'00).decline_reason,
            "reference_conflict");
  EXPECT_EQ(bank.handle(BankApi::credit_card, "refund-1", 2'00, true).bank_reference,
            refund.bank_reference);
  EXPECT_EQ(bank.approved().size(), 3u);
  EXPECT_TRUE(bank.approved().back().refund);
}

}  // namespace
}  // namespace capillary::banksim
