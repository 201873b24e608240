#pragma once
// The audit log of recent decisions, queryable per user, in bounded memory: one global ring of
// `capacity` decisions, each linked to the same user's previous one. A user's newest decision is
// found through a small index; walking the links stops at the first decision the ring has
// overwritten. Older decisions live on in the journaled commands that embed them.
//
// Not thread-safe: risk::Engine serialises it.

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "risk/decision.h"

namespace capillary::risk {

class DecisionLog {
 public:
  explicit DecisionLog(std::size_t capacity);
  DecisionLog(const DecisionLog&) = delete;
  DecisionLog& operator=(const DecisionLog&) = delete;

  void append(const Decision& decision);
  // The user's decisions still in the ring, newest first, at most `limit`.
  std::vector<Decision> for_user(std::uint64_t user_id, std::size_t limit) const;

 private:
  struct Slot {
    Decision decision;
    std::uint64_t sequence = 0;           // 0: never written
    std::uint64_t previous_sequence = 0;  // the same user's previous decision, 0 if none
  };
  bool holds(std::uint64_t sequence) const;
  void drop_stale_users();

  std::size_t capacity_;
  std::unique_ptr<Slot[]> slots_;
  std::uint64_t next_sequence_ = 1;
  absl::flat_hash_map<std::uint64_t, std::uint64_t> newest_by_user_;
};

}  // namespace capillary::risk
