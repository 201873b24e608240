#pragma once
// The money-market fund (Yu'e Bao, SPEC §3, docs/fund.md): a fund company's fund at a stable
// 1.00 CNY a share, subscribed from the wallet, redeemed instantly (T+0, up to a daily limit,
// advanced from the company's float) or normally (next business day), spendable at checkout, and
// paid a daily income to every holder in resumable steps.
//
// Money: the fund's cash sits in its custody account on the CNY ledger; its shares live on the
// shares ledger (payments::ledger_fund_shares, in fen) as three aggregates — issued (debit
// balance = shares outstanding), confirmed and pending. Each holder's shares live only in the
// module's register, so an income run moves money with one transfer per step, not per holder.
//
// Confirmation: a subscription on day t confirms on next_business_day(t). The aggregate moves
// pending → confirmed on the shares ledger when that day starts (advance, or the first command
// of the fund that needs it); a holder's own record folds its pending shares in lazily, the next
// time the holder is touched after the aggregate moved them.
//
// Income: a run for day D pays each holder floor(S × R / 10^8) fen (fund/income.h) on S, its
// shares confirmed on or before D held when the run started. A holder touched by any command while
// the run has not reached it is paid first, so a run pays on the shares of its start and nobody is
// paid twice (a holder's income_day says which day it was last paid for).
//
// Invariants (check_invariants; per-fund figures mirror the ledger):
// - shares: confirmed account == confirmed_total == Σ holders' confirmed + Σ holders' pending the
//   aggregate already confirmed; pending account == pending_total == Σ the rest of the pending;
//   issued debit balance == confirmed_total + pending_total (the shares outstanding);
// - cash: custody == shares outstanding + float_owed. Every movement keeps C − O − owed at 0:
//   a subscription adds x to both C and O; an instant redemption or a checkout takes x from O and
//   adds it to owed (the float paid); the float's repayment takes owed from C; a normal redemption
//   takes x from C and O (into fund_redemptions); income adds the same to C and O;
// - fund_redemptions == redemptions_due == Σ queued normal redemptions; rounding == residue_total;
// - young_total == what the holders hold of the shares confirmed on young_day;
// - per run, credited + residue == declared once done, credited <= declared before.

#include <absl/functional/function_ref.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fund/records.h"
#include "fund/register.h"
#include "ledger/ledger.h"
#include "payments/chain.h"
#include "payments/command.h"
#include "payments/records.h"
#include "payments/result.h"
#include "payments/table.h"

namespace capillary::fund {

// A holder as the API shows it, as of a moment.
struct HolderView {
  std::int64_t confirmed = 0;     // redeemable and earning
  std::int64_t pending = 0;       // subscribed, not yet confirmed
  std::uint64_t confirm_day = 0;  // when `pending` confirms (0 when nothing is pending)
  std::int64_t income_last = 0;   // the income of income_day
  std::uint64_t income_day = 0;   // the fund's last income day (0 before the first)
  std::int64_t income_total = 0;  // every income credited
  std::int64_t instant_left = 0;  // instant redemption left today
};

class Funds {
 public:
  Funds() = default;
  Funds(const Funds&) = delete;
  Funds& operator=(const Funds&) = delete;

  // Applies one fund command (create_fund..fund_deposit_float; values per docs/fund.md).
  // `institution` is the partner of a partner command (already checked to exist), else null.
  // A rejected command changes nothing.
  payments::Outcome apply(const payments::Command& command, payments::Chain& chain,
                          const payments::InstitutionRecord* institution) noexcept;
  // What the clock made due at chain.now(), each its own committed chain: normal redemptions paid
  // out, floats repaid from custody, pending subscriptions confirmed in the aggregate.
  void advance(payments::Chain& chain) noexcept;
  std::optional<std::uint64_t> next_deadline() const noexcept;

  // Checkout from fund shares (payments' pay_order and qr_pay): appends the legs of an instant
  // redemption of `amount` of `user`'s confirmed shares of `fund`, paid by the float to
  // `credit_account`, without changing anything; checks the holding and the daily instant limit.
  // Only once the caller's whole chain committed, checkout_done() records it (with the same
  // arguments and no other change to the fund in between).
  payments::Result checkout_legs(std::uint64_t fund, std::uint64_t user, std::int64_t amount,
                                 std::uint64_t credit_account, std::uint64_t user_data,
                                 payments::Chain& chain) const noexcept;
  void checkout_done(std::uint64_t fund, std::uint64_t user, std::int64_t amount,
                     std::uint64_t now) noexcept;
  // A refund of a fund-paid checkout before release: the money goes back into custody and the
  // user gets confirmed shares again. The refund does not give back instant limit. Same two steps.
  payments::Result refund_legs(std::uint64_t fund, std::uint64_t user, std::int64_t amount,
                               std::uint64_t debit_account, std::uint64_t user_data,
                               payments::Chain& chain) const noexcept;
  void refund_done(std::uint64_t fund, std::uint64_t user, std::int64_t amount,
                   std::uint64_t now) noexcept;

  // Loads an existing register in bulk: `count` holders, users first_user.., each with confirmed
  // shares shares_of(user), the company paying their cash into custody. Not a journaled command:
  // it is for setting up benchmarks (and, later, migrating a fund's register), never for the live
  // platform, whose holders come only from subscriptions. Fails like a command would.
  payments::Result import_holders(std::uint64_t fund, std::uint64_t first_user, std::uint64_t count,
                                  absl::FunctionRef<std::int64_t(std::uint64_t)> shares_of,
                                  payments::Chain& chain);

  const FundRecord* find_fund(std::uint64_t fund) const noexcept;
  std::optional<HolderView> holder(std::uint64_t fund, std::uint64_t user,
                                   std::uint64_t now) const noexcept;
  const IncomeRun* find_run(std::uint64_t fund, std::uint64_t day) const noexcept;
  std::optional<std::int64_t> yield_7d_ppm(std::uint64_t fund) const noexcept;
  // (fund, day) of every run declared and not finished: a server resumes them after a restart.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> runs_in_progress() const;
  std::size_t holders(std::uint64_t fund) const noexcept;

  std::uint64_t state_hash() const noexcept;
  // Empty when every invariant holds, else the first broken one.
  std::string check_invariants(const ledger::Ledger& ledger) const;
  // Without `registers`, the whole state inline. With it, each register's chunks changed since
  // the last such save go there instead (Register::take_changed): what a checkpoint writes.
  void save(std::string* out, Parts* registers = nullptr) const;
  // Consumes what save() wrote from the front of `in`, taking the registers from `registers`
  // when they were saved there; false when it is malformed.
  bool load(std::string_view* in, const Parts* registers = nullptr);

 private:
  struct Fund {
    FundRecord record;
    Register holders;
  };
  // A holder about to be changed by a command, worked out without changing anything: its record
  // after the run in progress paid it (when it had not been) and its pending shares folded in (when
  // the aggregate confirmed them).
  struct Touch {
    std::optional<std::uint32_t> slot;  // nullopt for a new holder
    Holder holder{};
    std::int64_t income = 0;  // paid first for the run in progress
    bool paid_first = false;
  };

  payments::Outcome create_fund(const payments::Command& command, payments::Chain& chain,
                                const payments::InstitutionRecord* institution) noexcept;
  payments::Outcome subscribe(const payments::Command& command, payments::Chain& chain) noexcept;
  payments::Outcome redeem(const payments::Command& command, payments::Chain& chain) noexcept;
  payments::Outcome deposit_float(const payments::Command& command,
                                  payments::Chain& chain) noexcept;
  payments::Outcome declare_income(const payments::Command& command,
                                   payments::Chain& chain) noexcept;
  payments::Outcome income_step(const payments::Command& command, payments::Chain& chain) noexcept;

  Fund* find(std::uint64_t fund) noexcept;
  const Fund* find(std::uint64_t fund) const noexcept;
  // `unfolded_day`: the confirmation day whose shares the aggregate has not confirmed yet (0:
  // none).
  Touch touch(const Fund& fund, std::uint64_t user, std::uint32_t unfolded_day) const noexcept;
  // Appends the two legs of `income` credited to holders: the company's cash into custody, and
  // as many new confirmed shares (nothing when income is 0).
  static void income_legs(const FundRecord& fund, std::int64_t income, std::uint64_t user_data,
                          payments::Chain& chain);
  // Writes the touched holder back and books its first payment in the run and in `next`, the
  // fund's record being built by the command.
  void finish_touch(Fund& fund, FundRecord& next, std::uint64_t user, const Touch& touch);
  // Takes confirmed shares from a holder (redemption, checkout): the oldest go first, so the
  // young ones (not earning for an open income day) are the last to go.
  static void take_confirmed(FundRecord& fund, Holder& holder, std::int64_t amount) noexcept;
  // The aggregate confirmation of fund's pending shares: legs, then (after commit) the records.
  static void confirm_legs(const FundRecord& fund, payments::Chain& chain);
  static void confirm_done(FundRecord& fund) noexcept;
  void put_fund(Fund& fund, const FundRecord& record) noexcept;
  void put_run(const IncomeRun& run);
  void push_redemption(const Redemption& redemption);

  std::map<std::uint64_t, Fund> funds_;  // ordered: advance() visits funds in id order
  std::uint64_t funds_hash_ = 0;         // Σ record hashes (registers keep their own)
  payments::Table<std::pair<std::uint64_t, std::uint64_t>, IncomeRun> runs_{101};
  std::deque<Redemption> redemptions_;  // in pay_day order
  std::uint64_t redemptions_hash_ = 0;
};

}  // namespace capillary::fund
