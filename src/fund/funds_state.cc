// Reads for the API, the state hash, checkpoints and the invariants.

#include <fmt/format.h>

#include <cstring>

#include "core/assert.h"
#include "core/bytes.h"
#include "core/checksum.h"
#include "fund/accounts.h"
#include "fund/funds.h"
#include "fund/income.h"
#include "fund/limits.h"
#include "payments/limits.h"

namespace capillary::fund {

namespace {

// Bumped when the saved layout changes.
constexpr std::uint64_t save_format_version = 2;

// Where a fund's register chunks are: "f" and the fund id, big-endian, before the chunk number.
std::string register_prefix(std::uint64_t fund) {
  std::string prefix = "f";
  for (int shift = 56; shift >= 0; shift -= 8) prefix.push_back(static_cast<char>(fund >> shift));
  return prefix;
}

// Balance of an account that holds credits (custody, confirmed, ...), or of one that runs a
// debit (issued) with the sign flipped.
std::int64_t credit_balance(const ledger::Ledger& ledger, std::uint64_t account) {
  const ledger::Account* found = ledger.find_account(account);
  return found == nullptr ? 0 : found->credits_posted - found->debits_posted;
}

}  // namespace

const FundRecord* Funds::find_fund(std::uint64_t fund) const noexcept {
  const Fund* found = find(fund);
  return found == nullptr ? nullptr : &found->record;
}

std::size_t Funds::holders(std::uint64_t fund) const noexcept {
  const Fund* found = find(fund);
  return found == nullptr ? 0 : found->holders.size();
}

const IncomeRun* Funds::find_run(std::uint64_t fund, std::uint64_t day) const noexcept {
  return runs_.find({fund, day});
}

// As of `now`: pending shares whose confirmation day has come show as confirmed. The income shown
// is that of the fund's last declared day once the run has looked at the holder (0 if it earned
// nothing), else the holder's previous one.
std::optional<HolderView> Funds::holder(std::uint64_t fund_id, std::uint64_t user,
                                        std::uint64_t now) const noexcept {
  const Fund* fund = find(fund_id);
  if (fund == nullptr) return std::nullopt;
  const auto slot = fund->holders.find(user);
  if (!slot) return std::nullopt;
  const Holder& holder = fund->holders.at(*slot);
  const std::uint64_t today = payments::business_day(now);
  HolderView view;
  view.confirmed = holder.confirmed;
  if (holder.pending > 0 && holder.confirm_day <= today) {
    view.confirmed += holder.pending;
  } else if (holder.pending > 0) {
    view.pending = holder.pending;
    view.confirm_day = holder.confirm_day;
  }
  view.income_last = holder.income_last;
  view.income_day = holder.income_day;
  const std::uint64_t last_day = fund->record.last_declared_day;
  if (holder.income_day < last_day) {
    const IncomeRun* run = runs_.find({fund_id, last_day});
    if (run->done != 0 || *slot < run->cursor || *slot >= run->holders) {
      view.income_last = 0;
      view.income_day = last_day;
    }
  }
  view.income_total = holder.income_total;
  view.instant_left =
      instant_redeem_fen_per_day_max - (holder.instant_day == today ? holder.instant_used : 0);
  return view;
}

std::optional<std::int64_t> Funds::yield_7d_ppm(std::uint64_t fund) const noexcept {
  const Fund* found = find(fund);
  if (found == nullptr) return std::nullopt;
  return fund::yield_7d_ppm(std::span<const std::uint64_t>(found->record.incomes_per_10k_e4,
                                                           found->record.incomes_count));
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> Funds::runs_in_progress() const {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> runs;
  for (const auto& [id, fund] : funds_) {
    if (fund.record.running_day != 0) runs.emplace_back(id, fund.record.running_day);
  }
  return runs;
}

std::uint64_t Funds::state_hash() const noexcept {
  std::uint64_t hash = funds_hash_ + runs_.hash() + redemptions_hash_;
  for (const auto& [id, fund] : funds_) hash += fund.holders.hash();
  return hash;
}

// Layout: version u64; registers apart u64 (0 or 1); fund count u64, then per fund its
// FundRecord and its register (Register::save, or apart: its holder count); the runs
// (Table::save); redemption count u64 and the Redemption records.
void Funds::save(std::string* out, Parts* registers) const {
  append(out, save_format_version);
  append(out, std::uint64_t{registers != nullptr ? 1u : 0u});
  append(out, std::uint64_t{funds_.size()});
  for (const auto& [id, fund] : funds_) {
    append(out, fund.record);
    if (registers == nullptr) {
      fund.holders.save(out);
    } else {
      append(out, std::uint64_t{fund.holders.size()});
      fund.holders.take_changed(register_prefix(id), registers);
    }
  }
  runs_.save(out);
  append(out, std::uint64_t{redemptions_.size()});
  for (const Redemption& redemption : redemptions_) append(out, redemption);
}

bool Funds::load(std::string_view* in, const Parts* registers) {
  std::uint64_t version = 0, apart = 0, count = 0;
  if (!take(in, &version) || version != save_format_version || !take(in, &apart) || apart > 1 ||
      (apart == 1 && registers == nullptr) || !take(in, &count)) {
    return false;
  }
  funds_.clear();
  funds_hash_ = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    FundRecord record;
    if (!take(in, &record)) return false;
    Fund& fund = funds_[record.id];
    fund.record = record;
    funds_hash_ += checksum(&record, sizeof(FundRecord));
    std::uint64_t holders = 0;
    const bool loaded = apart == 0 ? fund.holders.load(in)
                                   : take(in, &holders) &&
                                         fund.holders.load_parts(holders, register_prefix(record.id), *registers);
    if (!loaded) return false;
  }
  const auto run_key = [](const IncomeRun& run) { return std::pair{run.fund, run.day}; };
  if (!runs_.load(in, run_key) || !take(in, &count)) return false;
  redemptions_.clear();
  redemptions_hash_ = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    Redemption redemption;
    if (!take(in, &redemption)) return false;
    redemptions_.push_back(redemption);
    redemptions_hash_ += checksum(&redemption, sizeof(Redemption));
  }
  return true;
}

std::string Funds::check_invariants(const ledger::Ledger& ledger) const {
  std::uint64_t funds_hash = 0;
  for (const auto& [id, fund] : funds_) {
    const FundRecord& r = fund.record;
    funds_hash += checksum(&r, sizeof(FundRecord));
    // The register against the aggregates.
    std::int64_t confirmed = 0, pending = 0, young = 0;
    for (std::uint32_t slot = 0; slot < fund.holders.size(); ++slot) {
      const Holder& h = fund.holders.at(slot);
      if (h.confirmed < 0 || h.pending < 0 || h.young < 0 || h.young > h.confirmed ||
          h.instant_used > instant_redeem_fen_per_day_max ||
          (h.pending == 0) != (h.confirm_day == 0)) {
        return fmt::format("fund {}: holder {} has an impossible record", id,
                           fund.holders.user(slot));
      }
      const bool unconfirmed =
          r.pending_total > 0 && h.pending > 0 && h.confirm_day == r.pending_day;
      confirmed += h.confirmed + (unconfirmed ? 0 : h.pending);
      pending += unconfirmed ? h.pending : 0;
      if (r.young_day != 0 && h.young_day == r.young_day) young += h.young;
      if (r.young_day != 0 && !unconfirmed && h.pending > 0 && h.confirm_day == r.young_day)
        young += h.pending;
    }
    if (confirmed != r.confirmed_total || pending != r.pending_total || young != r.young_total) {
      return fmt::format(
          "fund {}: holders hold {} confirmed, {} pending, {} young; the fund says {}, {}, {}", id,
          confirmed, pending, young, r.confirmed_total, r.pending_total, r.young_total);
    }
    if (fund.holders.hash() != fund.holders.recompute_hash()) {
      return fmt::format("fund {}: the register's running hash differs from its records", id);
    }
    // The aggregates against the ledger.
    const std::int64_t outstanding = r.confirmed_total + r.pending_total;
    const std::int64_t queued = [&] {
      std::int64_t sum = 0;
      for (const Redemption& q : redemptions_) sum += q.fund == id ? q.amount : 0;
      return sum;
    }();
    const struct {
      const char* what;
      std::int64_t ledger, expected;
    } checks[] = {
        {"confirmed shares", credit_balance(ledger, confirmed_account(id)), r.confirmed_total},
        {"pending shares", credit_balance(ledger, pending_account(id)), r.pending_total},
        {"shares outstanding", -credit_balance(ledger, issued_account(id)), outstanding},
        {"custody", credit_balance(ledger, custody_account(id)), outstanding + r.float_owed},
        {"fund_redemptions", credit_balance(ledger, redemptions_account(id)), r.redemptions_due},
        {"queued redemptions", queued, r.redemptions_due},
        {"rounding", credit_balance(ledger, rounding_account(id)), r.residue_total},
    };
    for (const auto& check : checks) {
      if (check.ledger != check.expected) {
        return fmt::format("fund {}: {} is {} on the ledger, {} by the fund's records", id,
                           check.what, check.ledger, check.expected);
      }
    }
    if (r.running_day != 0) {
      const IncomeRun* run = runs_.find({id, r.running_day});
      if (run == nullptr || run->done != 0)
        return fmt::format("fund {}: its running run is missing", id);
    }
  }
  if (funds_hash != funds_hash_) return "fund records' running hash differs from the records";
  std::string broken;
  runs_.for_each([&](const IncomeRun& run) {
    if (!broken.empty()) return;
    const bool balanced = run.done != 0 ? run.credited + run.residue == run.declared
                                        : run.credited <= run.declared && run.residue == 0;
    if (!balanced || run.cursor > run.holders) {
      broken = fmt::format("fund {} day {}: declared {}, credited {}, residue {}", run.fund,
                           run.day, run.declared, run.credited, run.residue);
    }
  });
  return broken;
}

}  // namespace capillary::fund
