#pragma once
// What one holder earns for an income day, shared by the income step and by a holder paid first
// when a command touches it during a run.

#include <cstdint>

#include "core/assert.h"
#include "fund/income.h"
#include "fund/records.h"

namespace capillary::fund {

// The holder's shares confirmed on or before `day`: its confirmed shares less the young ones
// (confirmed after `day`), plus pending shares whose confirmation day has come by `day` but which
// the holder's record has not folded in yet.
inline std::int64_t earning_shares(const Holder& holder, std::uint64_t day) noexcept {
  CAP_ASSERT(holder.young >= 0 && holder.young <= holder.confirmed && holder.pending >= 0);
  std::int64_t shares = holder.confirmed;
  if (holder.young_day > day) shares -= holder.young;
  if (holder.pending > 0 && holder.confirm_day <= day) shares += holder.pending;
  return shares;
}

inline std::int64_t income_for(const Holder& holder, std::uint64_t day,
                               std::uint64_t income_per_10k_e4) noexcept {
  return income_floor(earning_shares(holder, day), income_per_10k_e4);
}

// Books `income` (possibly 0) as the holder's income for `day`, as new confirmed shares.
inline void credit_income(Holder& holder, std::uint64_t day, std::int64_t income) noexcept {
  CAP_ASSERT(holder.income_day < day && income >= 0);
  holder.confirmed += income;
  holder.income_last = income;
  holder.income_total += income;
  holder.income_day = static_cast<std::uint32_t>(day);
}

}  // namespace capillary::fund
