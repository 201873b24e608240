#pragma once
// Count and sum of one key's events (a user, device, IP or merchant) over the 1 min, 1 h and 24 h
// sliding windows, maintained incrementally.
//
// A window at time t holds the events with timestamps in (t - length, t]: an event exactly one
// window length old has left it. Entries live in a ring ordered by time, with one cursor per window
// marking its oldest entry; adding an event moves each cursor forward past what expired, so the
// cost is O(1) amortised and the ring holds exactly the last 24 h. Past `velocity_entries_max`
// entries the two oldest merge (see limits.h), which bounds memory and can only over-count.

#include <array>
#include <cstdint>
#include <memory>

namespace capillary::risk {

enum class Window : std::uint8_t { one_minute, one_hour, one_day };
inline constexpr std::size_t window_count = 3;

struct WindowTotals {
  std::uint32_t count = 0;
  std::int64_t sum_fen = 0;
};

class Velocity {
 public:
  Velocity() = default;
  Velocity(Velocity&&) noexcept = default;
  Velocity& operator=(Velocity&&) noexcept = default;
  Velocity(const Velocity&) = delete;
  Velocity& operator=(const Velocity&) = delete;

  // Expires what left each window by `now_ns`, then adds the event. Timestamps must not go back.
  void add(std::uint64_t now_ns, std::int64_t amount_fen);
  // Expires what left each window by `now_ns` without adding anything.
  void advance(std::uint64_t now_ns);

  const WindowTotals& totals(Window window) const { return totals_[static_cast<int>(window)]; }
  std::uint64_t last_ns() const { return last_ns_; }
  std::uint32_t entries() const { return static_cast<std::uint32_t>(tail_ - head_); }

 private:
  struct Entry {
    std::uint64_t timestamp_ns;
    std::int64_t amount_fen;
    std::uint32_t count;  // events merged into this entry (1 unless the ring overflowed)
  };

  // Most keys (a person, a phone) have a handful of events a day: their ring lives inside the
  // object, which saves a pointer chase to cold memory on every event. Busier keys move to the
  // heap.
  static constexpr std::uint32_t inline_entries = 4;
  static_assert((inline_entries & (inline_entries - 1)) == 0, "a power of two");
  Entry* entries_data() { return capacity_ <= inline_entries ? inline_.data() : heap_.get(); }
  Entry& at(std::uint64_t sequence) { return entries_data()[sequence & (capacity_ - 1)]; }
  void grow();
  void merge_oldest();

  std::array<Entry, inline_entries> inline_{};
  std::unique_ptr<Entry[]> heap_;
  std::uint32_t capacity_ = inline_entries;  // a power of two
  // Entries are numbered by a sequence that only grows: head_ is the oldest kept, tail_ one past
  // the newest; cursor_[w] is the oldest entry inside window w (head_ <= cursor_ <= tail_).
  std::uint64_t head_ = 0, tail_ = 0;
  std::array<std::uint64_t, window_count> cursor_{};
  // The timestamp of the entry at each cursor (when cursor_ < tail_), kept here so that checking
  // for expiry touches the ring only when something does expire: the ring is usually cold.
  std::array<std::uint64_t, window_count> cursor_ns_{};
  std::array<WindowTotals, window_count> totals_{};
  std::uint64_t last_ns_ = 0;
};

}  // namespace capillary::risk
