#pragma once
// The state machine of one cell: the ledger and the product modules that compose its transfers.
// Everything here is changed only by apply_batch (replay.h), on the engine thread, so that the
// journal alone determines it.

#include <cstdint>
#include <optional>
#include <string>

#include "ledger/ledger.h"
#include "payments/payments.h"

namespace capillary::engine {

struct State {
  explicit State(std::uint32_t accounts_reserve = 0, std::uint32_t transfers_reserve = 0)
      : ledger(accounts_reserve, transfers_reserve), payments(ledger) {}
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  // The hash every journal entry and checkpoint records. A module with no state adds nothing, so
  // a journal written before the module existed still verifies.
  std::uint64_t hash() const noexcept { return ledger.state_hash() + payments.state_hash(); }

  // When time alone next changes the state: a hold expiring or a product deadline.
  std::optional<std::uint64_t> next_deadline() noexcept {
    const auto hold = ledger.next_expiry();
    const auto product = payments.next_deadline();
    if (hold && product) return std::min(*hold, *product);
    return hold ? hold : product;
  }

  // Empty when every invariant of every part holds.
  std::string check_invariants() const {
    std::string broken = ledger.check_invariants();
    if (broken.empty()) broken = payments.check_invariants();
    return broken;
  }

  ledger::Ledger ledger;
  payments::Payments payments;
};

}  // namespace capillary::engine
