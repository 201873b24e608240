#pragma once
// One command's ledger transfers, built leg by leg and applied as one linked chain: every product
// module (payments, fund, wealth) moves money only through a Chain, so a command either applies
// all of its transfers or none, and the ledger enforces double entry and every balance limit.
//
// The chain also owns the two things every module's transfers share: the clock (each ledger event
// takes the next timestamp) and the transfer id sequence (one sequence for all product transfers,
// in the product half of the id space, accounts.h).

#include <cstdint>
#include <span>
#include <vector>

#include "ledger/ledger.h"
#include "payments/accounts.h"
#include "payments/result.h"

namespace capillary::payments {

class Chain {
 public:
  explicit Chain(ledger::Ledger& ledger);
  Chain(const Chain&) = delete;
  Chain& operator=(const Chain&) = delete;

  const ledger::Ledger& ledger() const noexcept { return ledger_; }
  // The timestamp the next ledger event gets: the platform time of the command being applied.
  std::uint64_t now() const noexcept { return now_; }
  void set_now(std::uint64_t now) noexcept { now_ = now; }

  // Appends one transfer; its id is the chain's.
  void leg(std::uint64_t debit, std::uint64_t credit, std::int64_t amount, TransferCode code,
           std::uint64_t user_data, std::uint32_t ledger_id = ledger_cny, std::uint16_t flags = 0,
           std::uint64_t pending_id = 0, std::uint32_t timeout_s = 0);
  // The id the next leg() gets (a later post or void names it as its pending_id).
  std::uint64_t next_transfer_id() const noexcept { return transfer_id(sequence_ + legs_.size() + 1); }
  std::size_t size() const noexcept { return legs_.size(); }
  void clear() noexcept { legs_.clear(); }

  // Applies the legs as one linked chain and clears them: ok, or the business result of the first
  // failing leg, in which case nothing moved.
  Result commit() noexcept;

  // Opens account (kind, id) on `ledger_id` unless it is open.
  Result ensure_account(AccountKind kind, std::uint64_t id, std::uint16_t flags,
                        std::uint32_t ledger_id = ledger_cny, std::uint64_t owner = 0) noexcept;
  // Opens accounts as one linked group; none of them may exist.
  Result open_accounts(std::span<const ledger::AccountSpec> specs) noexcept;
  // Posted credits less posted and pending debits: what the account can still pay.
  std::int64_t available(std::uint64_t account) const noexcept;

  // The transfer id sequence, part of the state (hash, checkpoints).
  std::uint64_t sequence() const noexcept { return sequence_; }
  void set_sequence(std::uint64_t sequence) noexcept { sequence_ = sequence; }

 private:
  ledger::Ledger& ledger_;
  std::uint64_t now_ = 0;
  std::uint64_t sequence_ = 0;
  std::vector<ledger::Transfer> legs_;
  std::vector<ledger::CreateTransferResult> results_;
};

// An account opened by a product module: owned by `owner`, typed by its kind.
ledger::AccountSpec account_spec(AccountKind kind, std::uint64_t id, std::uint64_t owner,
                                 std::uint16_t flags, std::uint32_t ledger_id = ledger_cny);

}  // namespace capillary::payments
