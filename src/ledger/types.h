#pragma once
// The ledger's records. These structs are the journal's and the checkpoint's byte layout (little
// endian, no padding, sizes asserted below), so a field is never reordered or resized in place:
// a new field takes reserved space or a new format version.

#include <cstdint>
#include <type_traits>

#include "core/chunked.h"
#include "core/limits.h"

namespace capillary::ledger {

// Account flags.
inline constexpr std::uint16_t account_linked = 1 << 0;
// Debits may not exceed credits + credit_limit: a wallet (limit 0) or a credit line (limit > 0).
inline constexpr std::uint16_t account_debits_must_not_exceed_credits = 1 << 1;
// Credits may not exceed debits: an account that must never hold a credit balance.
inline constexpr std::uint16_t account_credits_must_not_exceed_debits = 1 << 2;
inline constexpr std::uint16_t account_flags_known =
    account_linked | account_debits_must_not_exceed_credits |
    account_credits_must_not_exceed_debits;

// What a client asks for when it opens an account. Balances always start at zero.
struct AccountSpec {
  std::uint64_t id;
  std::uint64_t owner;         // the party (user, merchant, institution) the account belongs to
  std::uint64_t user_data;     // free for linking to an outside record
  std::int64_t credit_limit;   // how far debits may exceed credits; needs the debit constraint
  std::uint32_t ledger;        // currency; transfers only move money within one ledger
  std::uint16_t code;          // account type, chosen by the product that opens it
  std::uint16_t flags;
};
static_assert(sizeof(AccountSpec) == 40 && std::has_unique_object_representations_v<AccountSpec>);

struct Account {
  std::uint64_t id;
  std::uint64_t owner;
  std::uint64_t user_data;
  std::int64_t credit_limit;
  std::int64_t debits_pending;
  std::int64_t debits_posted;
  std::int64_t credits_pending;
  std::int64_t credits_posted;
  std::uint64_t timestamp;  // when it was created
  std::uint32_t ledger;
  std::uint16_t code;
  std::uint16_t flags;
};
static_assert(sizeof(Account) == 80 && std::has_unique_object_representations_v<Account>);

// Transfer flags.
inline constexpr std::uint16_t transfer_linked = 1 << 0;
inline constexpr std::uint16_t transfer_pending = 1 << 1;       // hold funds (phase one)
inline constexpr std::uint16_t transfer_post_pending = 1 << 2;  // settle a hold, fully or partly
inline constexpr std::uint16_t transfer_void_pending = 1 << 3;  // release a hold
inline constexpr std::uint16_t transfer_flags_known =
    transfer_linked | transfer_pending | transfer_post_pending | transfer_void_pending;

// What a client submits. For post/void, zero debit/credit/ledger/code/amount mean "as the pending
// transfer"; a post's amount below the held amount posts part and releases the rest.
struct Transfer {
  std::uint64_t id;
  std::uint64_t debit_account_id;
  std::uint64_t credit_account_id;
  std::int64_t amount;        // minor units of the ledger's currency
  std::uint64_t pending_id;   // the hold a post/void settles
  std::uint64_t user_data;    // free for linking to an outside record (order, bill, ...)
  std::uint32_t timeout_s;    // pending only: the hold expires by itself after this many seconds
  std::uint32_t ledger;
  std::uint16_t code;
  std::uint16_t flags;
  std::uint32_t reserved;     // must be zero
};
static_assert(sizeof(Transfer) == 64 && std::has_unique_object_representations_v<Transfer>);

enum class PendingStatus : std::uint8_t {
  none = 0,     // not a pending transfer
  pending = 1,  // funds held
  posted = 2,
  voided = 3,
  expired = 4,
};

// A transfer as the ledger keeps it: what was applied (post/void fields filled in from the hold)
// plus when, and for a hold, what became of it.
struct TransferRecord {
  Transfer transfer;
  std::uint64_t timestamp;
  PendingStatus status;
  std::uint8_t reserved[7];
};
static_assert(sizeof(TransferRecord) == 80 &&
              std::has_unique_object_representations_v<TransferRecord>);

// Balances of one account after a change, as the history store records them.
struct Balances {
  std::int64_t debits_pending;
  std::int64_t debits_posted;
  std::int64_t credits_pending;
  std::int64_t credits_posted;
};
static_assert(sizeof(Balances) == 32);

inline Balances balances_of(const Account& account) {
  return {account.debits_pending, account.debits_posted, account.credits_pending,
          account.credits_posted};
}

// One change to two accounts' balances: an applied transfer, or a hold that expired (then
// `expired` is 1 and `transfer` is the hold as it now stands).
struct HistoryEntry {
  TransferRecord transfer;
  std::uint64_t timestamp;  // when the balances changed
  std::uint64_t expired;    // 1 when this entry records a hold's expiry, else 0
  Balances debit_after;
  Balances credit_after;
};
static_assert(sizeof(HistoryEntry) == 160);

// The ledger's tables: records in chunks of 65,536 (5 MiB) that never move. A checkpoint chunk
// (checkpoint_chunk_records) lies inside one of them, so it is written straight from the table.
inline constexpr std::size_t table_chunk_records = std::size_t{1} << 16;
static_assert(table_chunk_records % checkpoint_chunk_records == 0);
using AccountTable = Chunked<Account, table_chunk_records>;
using TransferTable = Chunked<TransferRecord, table_chunk_records>;

}  // namespace capillary::ledger
