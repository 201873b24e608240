#include "banksim/bank.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <iterator>
#include <numbers>

#include "channels/limits.h"
#include "channels/wire.h"
#include "core/assert.h"
#include "core/checksum.h"

namespace capillary::banksim {
namespace {

using channels::BankApi;

// The standard normal's 99th percentile: p99 = median * exp(z99 * sigma).
constexpr double z99 = 2.3263478740408408;

// What declines say, as banks word them; drawn uniformly.
constexpr std::array<std::string_view, 4> decline_reasons{"insufficient_funds", "card_blocked",
                                                          "limit_exceeded", "suspected_fraud"};

// Independent draws from one hash of a call: one stream per decision.
enum Stream : std::uint64_t { verdict_stream, delay_u1, delay_u2, reason_stream, reference_stream };

// A uniform double in (0, 1) from 53 bits of a hash: never 0, so its logarithm is finite.
double unit_interval(std::uint64_t bits) {
  return (static_cast<double>(bits >> 11) + 0.5) * 0x1.0p-53;
}

std::uint32_t capacity_burst(std::uint32_t capacity_tps) {
  return std::max<std::uint32_t>(1, capacity_tps / capacity_burst_divisor);
}

}  // namespace

SimulatedBank::SimulatedBank(const channels::ChannelConfig& channel, std::uint64_t seed,
                             const Clock& clock)
    : channel_id_(channel.id),
      profile_(channel.simulation),
      seed_(seed),
      latency_sigma_(std::log(static_cast<double>(channel.simulation.latency_p99.count()) /
                              static_cast<double>(channel.simulation.latency_median.count())) /
                     z99),
      clock_(clock),
      capacity_(channel.simulation.capacity_tps, capacity_burst(channel.simulation.capacity_tps),
                clock.now_ns()) {
  CAP_ASSERT(profile_.latency_median.count() > 0);
  CAP_ASSERT(profile_.latency_p99 >= profile_.latency_median);
  CAP_ASSERT(profile_.error_ppm + profile_.decline_ppm <= 1'000'000);
}

std::uint64_t SimulatedBank::draw(std::string_view reference, std::uint32_t attempt,
                                  std::uint64_t stream) const {
  const std::uint64_t key = checksum(reference.data(), reference.size(), seed_ ^ channel_id_);
  const std::array<std::uint64_t, 3> words{key, attempt, stream};
  return checksum(words.data(), sizeof(words), seed_);
}

// Lognormal with the configured median and p99 (Box-Muller from two uniform draws).
std::chrono::microseconds SimulatedBank::draw_delay(std::string_view reference,
                                                    std::uint32_t attempt) const {
  const double u1 = unit_interval(draw(reference, attempt, delay_u1));
  const double u2 = unit_interval(draw(reference, attempt, delay_u2));
  const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  const double delay_us =
      static_cast<double>(profile_.latency_median.count()) * std::exp(latency_sigma_ * z);
  const double capped = std::min(delay_us, static_cast<double>(delay_max.count()));
  return std::chrono::microseconds(static_cast<std::int64_t>(capped));
}

Decision SimulatedBank::decide(std::string_view reference, std::uint32_t attempt) const {
  Decision decision;
  decision.delay = draw_delay(reference, attempt);
  const std::uint64_t share_ppm = draw(reference, attempt, verdict_stream) % 1'000'000;
  if (share_ppm < profile_.error_ppm) {
    decision.verdict = Verdict::error;
    return decision;
  }
  decision.verdict = share_ppm < std::uint64_t{profile_.error_ppm} + profile_.decline_ppm
                         ? Verdict::declined
                         : Verdict::approved;
  if (decision.verdict == Verdict::declined) {
    decision.decline_reason =
        decline_reasons[draw(reference, attempt, reason_stream) % decline_reasons.size()];
  }
  decision.bank_reference =
      fmt::format("B{:03}-{:016x}", channel_id_, draw(reference, attempt, reference_stream));
  return decision;
}

Decision SimulatedBank::handle(BankApi api, std::string_view reference, std::int64_t amount_fen,
                               bool refund) {
  CAP_ASSERT(amount_fen > 0);
  CAP_ASSERT(!refund || api == BankApi::credit_card);
  CAP_ASSERT(channels::wire::is_identifier(reference, channels::reference_bytes_max));
  const std::uint64_t now_ns = clock_.now_ns();
  if (!capacity_.try_take(now_ns)) return Decision{Verdict::over_capacity, {}, {}, {}};

  std::lock_guard lock(mutex_);
  auto found = entries_.find(absl::string_view(reference.data(), reference.size()));
  if (found == entries_.end()) {
    if (entries_.size() >= references_max) return Decision{Verdict::error, {}, {}, {}};
    found = entries_.emplace(std::string(reference), Entry{}).first;
  }
  Entry& entry = found->second;
  if (entry.settled) {
    // The bank looks up what it decided, which takes none of the time deciding took: a caller
    // that gave up on a slow first answer gets it when it asks again.
    if (entry.amount_fen == amount_fen && entry.api == api && entry.refund == refund) {
      Decision repeat = entry.decision;
      repeat.delay = std::chrono::microseconds{0};
      return repeat;
    }
    Decision conflict = entry.decision;
    conflict.verdict = Verdict::declined;
    conflict.decline_reason = "reference_conflict";
    return conflict;
  }
  Decision decision = decide(reference, entry.errors);
  if (decision.verdict == Verdict::error) {
    ++entry.errors;
    return decision;
  }
  entry.settled = true;
  entry.decision = decision;
  entry.amount_fen = amount_fen;
  entry.api = api;
  entry.refund = refund;
  if (decision.verdict == Verdict::approved) {
    approved_.push_back(
        {std::string(reference), decision.bank_reference, amount_fen, api, refund, now_ns});
  }
  return decision;
}

std::optional<Decision> SimulatedBank::find(std::string_view reference) const {
  std::lock_guard lock(mutex_);
  const auto found = entries_.find(absl::string_view(reference.data(), reference.size()));
  if (found == entries_.end() || !found->second.settled) return std::nullopt;
  Decision decision = found->second.decision;
  decision.delay = std::chrono::microseconds{0};
  return decision;
}

std::vector<Operation> SimulatedBank::approved() const {
  std::lock_guard lock(mutex_);
  return approved_;
}

std::string SimulatedBank::statement_csv() const {
  std::string csv(channels::wire::statement_header);
  std::lock_guard lock(mutex_);
  for (const Operation& operation : approved_) {
    const std::chrono::sys_days day =
        std::chrono::floor<std::chrono::days>(std::chrono::sys_time<std::chrono::nanoseconds>(
            std::chrono::nanoseconds(operation.approved_ns)));
    const std::chrono::year_month_day date(day);
    fmt::format_to(std::back_inserter(csv), "{:04}-{:02}-{:02},{},{},{},{}\n",
                   static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                   static_cast<unsigned>(date.day()), operation.bank_reference,
                   operation.our_reference, operation.amount_fen,
                   operation.refund ? channels::wire::refund_kind : channels::name(operation.api));
  }
  return csv;
}

}  // namespace capillary::banksim
