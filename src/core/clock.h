#pragma once
// Time sources. The engine stamps each batch from a Clock; tests and simulations use a ManualClock
// they can advance, so hold timeouts and business deadlines are reproducible.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace capillary {

class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds since the Unix epoch.
  virtual std::uint64_t now_ns() const noexcept = 0;
};

class SystemClock final : public Clock {
 public:
  std::uint64_t now_ns() const noexcept override {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::uint64_t start_ns) : now_ns_(start_ns) {}
  std::uint64_t now_ns() const noexcept override { return now_ns_.load(); }
  void advance(std::chrono::nanoseconds by) { now_ns_ += static_cast<std::uint64_t>(by.count()); }
  void set(std::uint64_t ns) { now_ns_ = ns; }

 private:
  std::atomic<std::uint64_t> now_ns_;
};

// The platform's business clock on a server: the system clock, plus an offset that test and
// simulation servers may move forward (never back) to make business days pass: T+1 fund
// confirmations, income days, auto-confirmation, sale windows and maturities.
class PlatformClock final : public Clock {
 public:
  std::uint64_t now_ns() const noexcept override { return system_.now_ns() + offset_ns_.load(); }
  void advance(std::chrono::nanoseconds by) { offset_ns_ += static_cast<std::uint64_t>(by.count()); }
  // Moves forward to at least `ns`: a restarted server resumes business time where its journal
  // stopped, even when that was ahead of the system clock.
  void catch_up(std::uint64_t ns) {
    const std::uint64_t now = now_ns();
    if (ns > now) offset_ns_ += ns - now;
  }

 private:
  SystemClock system_;
  std::atomic<std::uint64_t> offset_ns_{0};
};

inline constexpr std::uint64_t ns_per_s = 1'000'000'000ull;

}  // namespace capillary
