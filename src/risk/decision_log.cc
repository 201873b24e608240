#include "risk/decision_log.h"

#include <algorithm>

#include "core/assert.h"

namespace capillary::risk {

DecisionLog::DecisionLog(std::size_t capacity)
    : capacity_(capacity), slots_(std::make_unique<Slot[]>(capacity)) {
  CAP_ASSERT(capacity > 0);
}

bool DecisionLog::holds(std::uint64_t sequence) const {
  return sequence != 0 && slots_[sequence % capacity_].sequence == sequence;
}

void DecisionLog::append(const Decision& decision) {
  const std::uint64_t sequence = next_sequence_++;
  std::uint64_t& newest = newest_by_user_[decision.user_id];
  Slot& slot = slots_[sequence % capacity_];
  slot.decision = decision;
  // Not checked against the ring here (that would cost a cache miss per decision): a walk stops
  // at the first link whose slot was overwritten.
  slot.previous_sequence = newest;
  slot.sequence = sequence;
  newest = sequence;
  // The index keeps one entry per user; once it is much larger than the ring, most entries point
  // at overwritten decisions. Dropping them then costs O(index) once per `capacity` appends.
  if (newest_by_user_.size() > 2 * capacity_ && sequence % capacity_ == 0) drop_stale_users();
}

std::vector<Decision> DecisionLog::for_user(std::uint64_t user_id, std::size_t limit) const {
  std::vector<Decision> out;
  const auto found = newest_by_user_.find(user_id);
  if (found == newest_by_user_.end()) return out;
  limit = std::min(limit, decisions_per_query_max);
  for (std::uint64_t sequence = found->second; holds(sequence) && out.size() < limit;
       sequence = slots_[sequence % capacity_].previous_sequence) {
    const Slot& slot = slots_[sequence % capacity_];
    CAP_ASSERT(slot.decision.user_id == user_id);
    CAP_ASSERT(slot.previous_sequence < sequence);
    out.push_back(slot.decision);
  }
  return out;
}

void DecisionLog::drop_stale_users() {
  absl::erase_if(newest_by_user_, [this](const auto& entry) { return !holds(entry.second); });
}

}  // namespace capillary::risk
