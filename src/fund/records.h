#pragma once
// The fund module's records: hashed into the state hash and written byte for byte into
// checkpoints, so no padding and sizes asserted. Days are China-time day numbers
// (payments::business_day); 0 means none. Amounts and shares are in fen (1 share = 100 fen).

#include <cstdint>
#include <type_traits>

namespace capillary::fund {

// A fund and the aggregates the ledger mirrors (check_invariants compares them).
struct FundRecord {
  std::uint64_t id;
  std::uint64_t company;  // the fund company (institution) that runs it
  std::uint64_t created_at;
  std::int64_t confirmed_total;  // = the shares ledger's confirmed account
  std::int64_t pending_total;    // = the shares ledger's pending account, confirming on pending_day
  // Of confirmed_total, the shares confirmed on young_day: the one confirmation day that can be
  // later than an income day still open for declaration (see Funds::declare_income).
  std::int64_t young_total;
  std::int64_t float_owed;       // instant redemptions the float advanced, custody repays it
  std::int64_t redemptions_due;  // normal redemptions awaiting payout (= fund_redemptions)
  std::int64_t residue_total;    // every run's residue (= the rounding account)
  std::int64_t income_total;     // every income credited to holders
  std::uint32_t pending_day;
  std::uint32_t young_day;
  std::uint32_t float_due_day;  // when custody repays float_owed
  std::uint32_t last_declared_day;
  std::uint32_t running_day;            // the income run in progress, 0 when none
  std::uint32_t incomes_count;          // declared days so far, capped at yield_days
  std::uint64_t incomes_per_10k_e4[7];  // the last declared incomes, oldest first
};
static_assert(sizeof(FundRecord) == 160 && std::has_unique_object_representations_v<FundRecord>);

// One holder's position in one fund. 64 bytes, one cache line: the income step reads and writes
// nothing else per holder. The user id lives beside it (Register), since the step never needs it.
struct alignas(64) Holder {
  std::int64_t confirmed;  // confirmed shares (income credits included)
  // Subscribed shares confirming on confirm_day. One slot suffices: see Funds::subscribe.
  std::int64_t pending;
  std::int64_t young;         // of `confirmed`, those confirmed on young_day (not earning before)
  std::int64_t income_last;   // the income credited for income_day
  std::int64_t income_total;  // every income credited
  std::uint32_t confirm_day;
  std::uint32_t young_day;
  std::uint32_t income_day;    // the last income day this holder was paid for (0: never)
  std::uint32_t instant_day;   // the China day instant_used counts
  std::uint32_t instant_used;  // instant redemptions and checkout spending on instant_day
  std::uint32_t reserved;
};
static_assert(sizeof(Holder) == 64 && std::has_unique_object_representations_v<Holder>);

// One day's income run of one fund.
struct IncomeRun {
  std::uint64_t fund;
  std::uint64_t day;
  std::uint64_t income_per_10k_e4;
  std::int64_t eligible;  // shares that earn for `day`, at the run's start
  std::int64_t declared;  // income_floor(eligible, rate)
  std::int64_t credited;  // paid to holders so far
  std::int64_t residue;   // declared − credited, posted to rounding when done
  std::uint64_t started_at;
  std::uint64_t finished_at;  // 0 while running
  std::uint32_t holders;      // register slots at the start: the run pays slots [0, holders)
  std::uint32_t cursor;       // the next slot a step looks at
  std::uint32_t paid;         // holders credited a non-zero income
  std::uint32_t done;
};
static_assert(sizeof(IncomeRun) == 88 && std::has_unique_object_representations_v<IncomeRun>);

// A normal redemption awaiting its next-business-day payout.
struct Redemption {
  std::uint64_t fund;
  std::uint64_t user;
  std::int64_t amount;
  std::uint64_t pay_day;
};
static_assert(sizeof(Redemption) == 32 && std::has_unique_object_representations_v<Redemption>);

}  // namespace capillary::fund
