#include "risk/velocity.h"

#include <algorithm>

#include "core/assert.h"
#include "risk/limits.h"

namespace capillary::risk {
namespace {

constexpr std::array<std::uint64_t, window_count> window_ns{window_1m_ns, window_1h_ns,
                                                            window_24h_ns};
static_assert((velocity_entries_max & (velocity_entries_max - 1)) == 0, "a power of two");

}  // namespace

void Velocity::advance(std::uint64_t now_ns) {
  CAP_ASSERT(now_ns >= last_ns_);
  last_ns_ = now_ns;
  for (std::size_t w = 0; w < window_count; ++w) {
    // In the window: timestamp > now - length. Out: timestamp + length <= now.
    while (cursor_[w] < tail_ && cursor_ns_[w] + window_ns[w] <= now_ns) {
      const Entry& gone = at(cursor_[w]);
      CAP_ASSERT(gone.timestamp_ns == cursor_ns_[w]);
      totals_[w].count -= gone.count;
      totals_[w].sum_fen -= gone.amount_fen;
      if (++cursor_[w] < tail_) cursor_ns_[w] = at(cursor_[w]).timestamp_ns;
    }
  }
  // The 24 h window is the widest: everything before its cursor is out of every window.
  head_ = cursor_[static_cast<int>(Window::one_day)];
  CAP_ASSERT(cursor_[0] >= cursor_[1] && cursor_[1] >= cursor_[2]);
}

void Velocity::add(std::uint64_t now_ns, std::int64_t amount_fen) {
  advance(now_ns);
  if (tail_ - head_ == capacity_) {
    if (capacity_ < velocity_entries_max) {
      grow();
    } else {
      merge_oldest();
    }
  }
  for (std::size_t w = 0; w < window_count; ++w) {
    if (cursor_[w] == tail_) cursor_ns_[w] = now_ns;  // the window was empty: this event leads it
    totals_[w].count += 1;
    totals_[w].sum_fen += amount_fen;
  }
  at(tail_++) = Entry{now_ns, amount_fen, 1};
  CAP_ASSERT(tail_ - head_ <= capacity_);
}

void Velocity::grow() {
  const std::uint32_t capacity = capacity_ * 2;
  auto ring = std::make_unique<Entry[]>(capacity);
  for (std::uint64_t s = head_; s < tail_; ++s) ring[s & (capacity - 1)] = at(s);
  heap_ = std::move(ring);
  capacity_ = capacity;
}

// Folds the oldest entry into the next one, which keeps its (later) timestamp. A window whose
// cursor was on that next entry did not hold the oldest events and now does: they are added to it.
void Velocity::merge_oldest() {
  CAP_ASSERT(tail_ - head_ >= 2);
  const Entry oldest = at(head_);
  Entry& next = at(head_ + 1);
  next.count += oldest.count;
  next.amount_fen += oldest.amount_fen;
  for (std::size_t w = 0; w < window_count; ++w) {
    if (cursor_[w] == head_) {
      cursor_[w] = head_ + 1;
      cursor_ns_[w] = next.timestamp_ns;
    } else if (cursor_[w] == head_ + 1) {
      totals_[w].count += oldest.count;
      totals_[w].sum_fen += oldest.amount_fen;
    }
  }
  ++head_;
}

}  // namespace capillary::risk
