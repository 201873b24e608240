#include "ledger/ledger.h"

#include <absl/container/flat_hash_set.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>

#include "core/assert.h"
#include "core/checksum.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/prefetch.h"

namespace capillary::ledger {
namespace {

// Before the record at `slot` is written: a checkpoint's copy of its chunk, if one is waiting,
// is made first (core/chunk_copies.h).
void mark_chunk(std::vector<std::uint8_t>& changed, ChunkCopies& copies, std::uint32_t slot) {
  const auto chunk = static_cast<std::uint32_t>(slot / checkpoint_chunk_records);
  copies.before_write(chunk);
  if (chunk >= changed.size()) changed.resize(chunk + 1, 0);
  changed[chunk] = 1;
}

std::vector<std::uint32_t> take_marks(std::vector<std::uint8_t>& changed) {
  std::vector<std::uint32_t> chunks;
  for (std::uint32_t chunk = 0; chunk < changed.size(); ++chunk) {
    if (changed[chunk]) chunks.push_back(chunk);
  }
  changed.assign(changed.size(), 0);
  return chunks;
}

constexpr std::uint64_t id_max = std::numeric_limits<std::uint64_t>::max();

bool add_overflows(std::int64_t a, std::int64_t b) {
  std::int64_t sum;
  return __builtin_add_overflow(a, b, &sum);
}

// A retried post or void may leave fields zero ("as the hold"); a plain retry must match exactly.
bool same_transfer(const Transfer& input, const Transfer& stored) {
  const bool settles = (input.flags & (transfer_post_pending | transfer_void_pending)) != 0;
  auto matches = [settles](auto given, auto kept) { return given == kept || (settles && given == 0); };
  return input.flags == stored.flags && input.pending_id == stored.pending_id &&
         input.user_data == stored.user_data && input.timeout_s == stored.timeout_s &&
         matches(input.debit_account_id, stored.debit_account_id) &&
         matches(input.credit_account_id, stored.credit_account_id) &&
         matches(input.ledger, stored.ledger) && matches(input.code, stored.code) &&
         matches(input.amount, stored.amount);
}

bool same_account(const AccountSpec& spec, const Account& account) {
  return spec.owner == account.owner && spec.user_data == account.user_data &&
         spec.credit_limit == account.credit_limit && spec.ledger == account.ledger &&
         spec.code == account.code && spec.flags == account.flags;
}

// Field checks that need no state, in precedence order.
CreateTransferResult validate_transfer(const Transfer& t) {
  using R = CreateTransferResult;
  if (t.flags & ~transfer_flags_known) return R::reserved_flag;
  if (t.reserved != 0) return R::reserved_field;
  if (t.id == 0) return R::id_must_not_be_zero;
  if (t.id == id_max) return R::id_must_not_be_max;
  const int phases = !!(t.flags & transfer_pending) + !!(t.flags & transfer_post_pending) +
                     !!(t.flags & transfer_void_pending);
  if (phases > 1) return R::flags_are_mutually_exclusive;
  const bool settles = (t.flags & (transfer_post_pending | transfer_void_pending)) != 0;
  if (settles) {
    if (t.pending_id == 0) return R::pending_id_must_not_be_zero;
    if (t.pending_id == id_max) return R::pending_id_must_not_be_max;
    if (t.pending_id == t.id) return R::pending_id_must_be_different;
    if (t.timeout_s != 0) return R::timeout_reserved_for_pending_transfer;
    if (t.amount < 0) return R::amount_must_not_be_negative;
    return R::ok;
  }
  if (t.pending_id != 0) return R::pending_id_must_be_zero;
  if (t.timeout_s != 0 && !(t.flags & transfer_pending)) {
    return R::timeout_reserved_for_pending_transfer;
  }
  if (t.amount <= 0) return R::amount_must_be_positive;
  if (t.debit_account_id == 0) return R::debit_account_id_must_not_be_zero;
  if (t.credit_account_id == 0) return R::credit_account_id_must_not_be_zero;
  if (t.debit_account_id == t.credit_account_id) return R::accounts_must_be_different;
  if (t.ledger == 0) return R::ledger_must_not_be_zero;
  if (t.code == 0) return R::code_must_not_be_zero;
  return R::ok;
}

CreateAccountResult validate_account(const AccountSpec& a) {
  using R = CreateAccountResult;
  if (a.flags & ~account_flags_known) return R::reserved_flag;
  if (a.id == 0) return R::id_must_not_be_zero;
  if (a.id == id_max) return R::id_must_not_be_max;
  if ((a.flags & account_debits_must_not_exceed_credits) &&
      (a.flags & account_credits_must_not_exceed_debits)) {
    return R::flags_are_mutually_exclusive;
  }
  if (a.credit_limit < 0) return R::credit_limit_must_not_be_negative;
  if (a.credit_limit > 0 && !(a.flags & account_debits_must_not_exceed_credits)) {
    return R::credit_limit_requires_debit_constraint;
  }
  if (a.ledger == 0) return R::ledger_must_not_be_zero;
  if (a.code == 0) return R::code_must_not_be_zero;
  return R::ok;
}

// Whether the account may take `amount` more debits (pending or posted), given its constraint.
bool debit_allowed(const Account& a, std::int64_t amount) {
  if (!(a.flags & account_debits_must_not_exceed_credits)) return true;
  const __int128 debits = static_cast<__int128>(a.debits_pending) + a.debits_posted + amount;
  return debits <= static_cast<__int128>(a.credits_posted) + a.credit_limit;
}

bool credit_allowed(const Account& a, std::int64_t amount) {
  if (!(a.flags & account_credits_must_not_exceed_debits)) return true;
  const __int128 credits = static_cast<__int128>(a.credits_pending) + a.credits_posted + amount;
  return credits <= a.debits_posted;
}

}  // namespace

std::uint64_t expires_at(const TransferRecord& record) noexcept {
  if (record.transfer.timeout_s == 0) return 0;
  return record.timestamp + record.transfer.timeout_s * ns_per_s;
}

Ledger::Ledger(std::uint32_t accounts_reserve, std::uint32_t transfers_reserve) {
  account_slots_.reserve(accounts_reserve);
  transfer_slots_.reserve(transfers_reserve);
}

void Ledger::create_accounts(std::span<const AccountSpec> events, std::uint64_t first_timestamp,
                             std::span<CreateAccountResult> results) noexcept {
  CAP_ASSERT(events.size() == results.size());
  std::size_t chain_start = 0;
  bool in_chain = false, chain_broken = false;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const bool linked = events[i].flags & account_linked;
    if (linked && !in_chain) {
      in_chain = true;
      chain_start = i;
      open_scope();
    }
    CreateAccountResult result;
    if (chain_broken) {
      result = CreateAccountResult::linked_event_failed;
    } else if (linked && i + 1 == events.size()) {
      result = CreateAccountResult::linked_event_chain_open;
    } else {
      result = create_account(events[i], first_timestamp + i);
    }
    results[i] = result;
    if (!in_chain) continue;
    if (result != CreateAccountResult::ok && !chain_broken) {
      rollback_scope();
      chain_broken = true;
      std::fill(results.begin() + chain_start, results.begin() + i,
                CreateAccountResult::linked_event_failed);
    }
    if (!linked) {
      if (!chain_broken) close_scope();
      in_chain = chain_broken = false;
    }
  }
  CAP_ASSERT(!in_scope_);
}

void Ledger::create_transfers(std::span<const Transfer> events, std::uint64_t first_timestamp,
                              std::span<CreateTransferResult> results) noexcept {
  CAP_ASSERT(events.size() == results.size());
  std::size_t chain_start = 0;
  bool in_chain = false, chain_broken = false;
  for (std::size_t i = 0; i < events.size(); ++i) {
    prefetch(events, i);
    const bool linked = events[i].flags & transfer_linked;
    if (linked && !in_chain) {
      in_chain = true;
      chain_start = i;
      open_scope();
    }
    CreateTransferResult result;
    if (chain_broken) {
      result = CreateTransferResult::linked_event_failed;
    } else if (linked && i + 1 == events.size()) {
      result = CreateTransferResult::linked_event_chain_open;
    } else {
      result = create_transfer(events[i], first_timestamp + i);
    }
    results[i] = result;
    if (!in_chain) continue;
    if (result != CreateTransferResult::ok && !chain_broken) {
      rollback_scope();
      chain_broken = true;
      std::fill(results.begin() + chain_start, results.begin() + i,
                CreateTransferResult::linked_event_failed);
    }
    if (!linked) {
      if (!chain_broken) close_scope();
      in_chain = chain_broken = false;
    }
  }
  CAP_ASSERT(!in_scope_);
}

// With a million accounts nearly every lookup misses the cache (core/prefetch.h).
void Ledger::prefetch(std::span<const Transfer> events, std::size_t i) const noexcept {
  prefetch_ahead(
      events, i,
      [this](const Transfer& ahead) {
        transfer_slots_.prefetch(ahead.id);
        account_slots_.prefetch(ahead.debit_account_id);
        account_slots_.prefetch(ahead.credit_account_id);
      },
      [this](const Transfer& ahead) {
        for (const std::uint64_t id : {ahead.debit_account_id, ahead.credit_account_id}) {
          if (const std::uint32_t* slot = account_slots_.find(id)) __builtin_prefetch(&accounts_[*slot], 1);
        }
      });
}

CreateAccountResult Ledger::create_account(const AccountSpec& spec,
                                           std::uint64_t timestamp) noexcept {
  if (const auto invalid = validate_account(spec); invalid != CreateAccountResult::ok) {
    return invalid;
  }
  if (const Account* existing = find_account(spec.id)) {
    return same_account(spec, *existing) ? CreateAccountResult::exists
                                         : CreateAccountResult::exists_with_different_fields;
  }
  if (accounts_.size() >= accounts_max) return CreateAccountResult::accounts_full;
  const Account account{.id = spec.id,
                        .owner = spec.owner,
                        .user_data = spec.user_data,
                        .credit_limit = spec.credit_limit,
                        .debits_pending = 0,
                        .debits_posted = 0,
                        .credits_pending = 0,
                        .credits_posted = 0,
                        .timestamp = timestamp,
                        .ledger = spec.ledger,
                        .code = spec.code,
                        .flags = spec.flags};
  const auto slot = static_cast<std::uint32_t>(accounts_.size());
  accounts_.push_back(account);
  CAP_ASSERT(account_slots_.try_emplace(spec.id, slot).second);
  mark_chunk(account_chunk_changed_, account_copies_, slot);
  state_hash_ += record_hash(account);
  if (in_scope_) undo_.push_back({Undo::Kind::account_created, slot, {}, {}});
  return CreateAccountResult::ok;
}

CreateTransferResult Ledger::create_transfer(const Transfer& t, std::uint64_t timestamp) noexcept {
  using R = CreateTransferResult;
  if (const auto invalid = validate_transfer(t); invalid != R::ok) return invalid;
  if (const TransferRecord* existing = find_transfer(t.id)) {
    return same_transfer(t, existing->transfer) ? R::exists : R::exists_with_different_fields;
  }
  if (t.flags & (transfer_post_pending | transfer_void_pending)) return settle_pending(t, timestamp);

  const std::uint32_t* debit_found = account_slots_.find(t.debit_account_id);
  if (debit_found == nullptr) return R::debit_account_not_found;
  const std::uint32_t* credit_found = account_slots_.find(t.credit_account_id);
  if (credit_found == nullptr) return R::credit_account_not_found;
  const std::uint32_t debit_slot = *debit_found, credit_slot = *credit_found;
  const Account& debit = accounts_[debit_slot];
  const Account& credit = accounts_[credit_slot];
  if (debit.ledger != credit.ledger) return R::accounts_must_have_the_same_ledger;
  if (t.ledger != debit.ledger) return R::transfer_must_have_the_same_ledger_as_accounts;

  const bool pending = t.flags & transfer_pending;
  if (pending) {
    if (add_overflows(debit.debits_pending, t.amount)) return R::overflows_debits_pending;
    if (add_overflows(credit.credits_pending, t.amount)) return R::overflows_credits_pending;
  } else {
    if (add_overflows(debit.debits_posted, t.amount)) return R::overflows_debits_posted;
    if (add_overflows(credit.credits_posted, t.amount)) return R::overflows_credits_posted;
  }
  if (add_overflows(debit.debits_pending, debit.debits_posted) ||
      add_overflows(debit.debits_pending + debit.debits_posted, t.amount)) {
    return R::overflows_debits;
  }
  if (add_overflows(credit.credits_pending, credit.credits_posted) ||
      add_overflows(credit.credits_pending + credit.credits_posted, t.amount)) {
    return R::overflows_credits;
  }
  if (t.timeout_s != 0 &&
      timestamp > std::numeric_limits<std::uint64_t>::max() - t.timeout_s * ns_per_s) {
    return R::overflows_timeout;
  }
  if (!debit_allowed(debit, t.amount)) return R::exceeds_credits;
  if (!credit_allowed(credit, t.amount)) return R::exceeds_debits;
  if (transfers_.size() >= transfers_max) return R::transfers_full;

  Account& debit_mut = modify_account(debit_slot);
  Account& credit_mut = modify_account(credit_slot);
  if (pending) {
    debit_mut.debits_pending += t.amount;
    credit_mut.credits_pending += t.amount;
  } else {
    debit_mut.debits_posted += t.amount;
    credit_mut.credits_posted += t.amount;
  }
  finish_account_change(debit_slot);
  finish_account_change(credit_slot);
  CAP_ASSERT(debit_allowed(debit_mut, 0) && credit_allowed(credit_mut, 0));

  insert_transfer(t, timestamp, pending ? PendingStatus::pending : PendingStatus::none);
  const auto slot = static_cast<std::uint32_t>(transfers_.size() - 1);
  if (pending && t.timeout_s != 0) {
    expiries_.push({expires_at(transfers_[slot]), t.id, slot});
  }
  record_history(transfers_[slot], debit_slot, credit_slot, timestamp, false);
  return R::ok;
}

CreateTransferResult Ledger::settle_pending(const Transfer& t, std::uint64_t timestamp) noexcept {
  using R = CreateTransferResult;
  const std::uint32_t* pending_found = transfer_slots_.find(t.pending_id);
  if (pending_found == nullptr) return R::pending_transfer_not_found;
  const std::uint32_t pending_slot = *pending_found;
  const TransferRecord& hold = transfers_[pending_slot];
  if (hold.status == PendingStatus::none) return R::pending_transfer_not_pending;
  if (t.debit_account_id != 0 && t.debit_account_id != hold.transfer.debit_account_id) {
    return R::pending_transfer_has_different_debit_account_id;
  }
  if (t.credit_account_id != 0 && t.credit_account_id != hold.transfer.credit_account_id) {
    return R::pending_transfer_has_different_credit_account_id;
  }
  if (t.ledger != 0 && t.ledger != hold.transfer.ledger) {
    return R::pending_transfer_has_different_ledger;
  }
  if (t.code != 0 && t.code != hold.transfer.code) return R::pending_transfer_has_different_code;
  const bool post = t.flags & transfer_post_pending;
  if (post && t.amount > hold.transfer.amount) return R::exceeds_pending_transfer_amount;
  if (!post && t.amount != 0 && t.amount != hold.transfer.amount) {
    return R::pending_transfer_has_different_amount;
  }
  switch (hold.status) {
    case PendingStatus::posted: return R::pending_transfer_already_posted;
    case PendingStatus::voided: return R::pending_transfer_already_voided;
    case PendingStatus::expired: return R::pending_transfer_expired;
    case PendingStatus::pending: break;
    case PendingStatus::none: CAP_ASSERT(false);
  }
  // A hold is dead from its deadline on, even when expire() has not yet run for that instant (an
  // event later in the batch than the timestamp expire() was called with); expire() releases it.
  if (const std::uint64_t deadline = expires_at(hold); deadline != 0 && deadline <= timestamp) {
    return R::pending_transfer_expired;
  }
  const std::int64_t amount = post ? (t.amount == 0 ? hold.transfer.amount : t.amount)
                                   : hold.transfer.amount;
  const std::uint32_t debit_slot = account_slot(hold.transfer.debit_account_id);
  const std::uint32_t credit_slot = account_slot(hold.transfer.credit_account_id);
  if (post) {
    if (add_overflows(accounts_[debit_slot].debits_posted, amount)) {
      return R::overflows_debits_posted;
    }
    if (add_overflows(accounts_[credit_slot].credits_posted, amount)) {
      return R::overflows_credits_posted;
    }
  }
  if (transfers_.size() >= transfers_max) return R::transfers_full;

  Transfer applied = t;
  applied.debit_account_id = hold.transfer.debit_account_id;
  applied.credit_account_id = hold.transfer.credit_account_id;
  applied.ledger = hold.transfer.ledger;
  applied.code = hold.transfer.code;
  applied.amount = amount;
  release_hold(pending_slot, post ? PendingStatus::posted : PendingStatus::voided,
               post ? amount : 0);
  insert_transfer(applied, timestamp, PendingStatus::none);
  record_history(transfers_.back(), debit_slot, credit_slot, timestamp, false);
  return R::ok;
}

void Ledger::release_hold(std::uint32_t slot, PendingStatus outcome,
                          std::int64_t posted_amount) noexcept {
  const Transfer& hold = transfers_[slot].transfer;
  CAP_ASSERT(transfers_[slot].status == PendingStatus::pending);
  CAP_ASSERT(posted_amount >= 0 && posted_amount <= hold.amount);
  const std::uint32_t debit_slot = account_slot(hold.debit_account_id);
  const std::uint32_t credit_slot = account_slot(hold.credit_account_id);
  Account& debit = modify_account(debit_slot);
  Account& credit = modify_account(credit_slot);
  CAP_ASSERT(debit.debits_pending >= hold.amount && credit.credits_pending >= hold.amount);
  debit.debits_pending -= hold.amount;
  credit.credits_pending -= hold.amount;
  debit.debits_posted += posted_amount;
  credit.credits_posted += posted_amount;
  finish_account_change(debit_slot);
  finish_account_change(credit_slot);
  set_status(slot, outcome);
}

std::uint32_t Ledger::expire(std::uint64_t now) noexcept {
  CAP_ASSERT(!in_scope_);
  std::uint32_t released = 0;
  while (!expiries_.empty() && expiries_.top().expires_at <= now) {
    const Expiry due = expiries_.top();
    expiries_.pop();
    // Entries are dropped lazily: the hold may have been posted or voided since, or belonged to
    // a linked chain that was rolled back.
    if (due.slot >= transfers_.size()) continue;
    const TransferRecord& record = transfers_[due.slot];
    if (record.transfer.id != due.transfer_id || record.status != PendingStatus::pending ||
        expires_at(record) != due.expires_at) {
      continue;
    }
    release_hold(due.slot, PendingStatus::expired, 0);
    record_history(record, account_slot(record.transfer.debit_account_id),
                   account_slot(record.transfer.credit_account_id), now + released, true);
    ++released;
  }
  return released;
}

std::optional<std::uint64_t> Ledger::next_expiry() noexcept {
  while (!expiries_.empty()) {
    const Expiry& due = expiries_.top();
    // Same staleness test as expire(): a rolled-back hold's id may be reused in its slot.
    if (due.slot < transfers_.size() && transfers_[due.slot].transfer.id == due.transfer_id &&
        transfers_[due.slot].status == PendingStatus::pending &&
        expires_at(transfers_[due.slot]) == due.expires_at) {
      return due.expires_at;
    }
    expiries_.pop();
  }
  return std::nullopt;
}

const Account* Ledger::find_account(std::uint64_t id) const noexcept {
  const std::uint32_t* slot = account_slots_.find(id);
  return slot == nullptr ? nullptr : &accounts_[*slot];
}

const TransferRecord* Ledger::find_transfer(std::uint64_t id) const noexcept {
  const std::uint32_t* slot = transfer_slots_.find(id);
  return slot == nullptr ? nullptr : &transfers_[*slot];
}

// The slot of an account a stored transfer names, which exists: accounts are never removed.
std::uint32_t Ledger::account_slot(std::uint64_t id) const noexcept {
  const std::uint32_t* slot = account_slots_.find(id);
  CAP_ASSERT(slot != nullptr);
  return *slot;
}

void Ledger::insert_transfer(const Transfer& transfer, std::uint64_t timestamp,
                             PendingStatus status) {
  TransferRecord record{};
  record.transfer = transfer;
  record.timestamp = timestamp;
  record.status = status;
  const auto slot = static_cast<std::uint32_t>(transfers_.size());
  transfers_.push_back(record);
  CAP_ASSERT(transfer_slots_.try_emplace(transfer.id, slot).second);
  mark_chunk(transfer_chunk_changed_, transfer_copies_, slot);
  state_hash_ += record_hash(record);
  if (in_scope_) undo_.push_back({Undo::Kind::transfer_created, slot, {}, {}});
}

// Balance changes go through modify_account / finish_account_change so the state hash and the
// undo log see every one: the hash of the old record leaves before the change, the new one joins
// after it.
Account& Ledger::modify_account(std::uint32_t slot) noexcept {
  Account& account = accounts_[slot];
  if (in_scope_) undo_.push_back({Undo::Kind::account_changed, slot, {}, account});
  mark_chunk(account_chunk_changed_, account_copies_, slot);
  state_hash_ -= record_hash(account);
  return account;
}

void Ledger::finish_account_change(std::uint32_t slot) noexcept {
  const Account& account = accounts_[slot];
  CAP_ASSERT(account.debits_pending >= 0 && account.debits_posted >= 0 &&
             account.credits_pending >= 0 && account.credits_posted >= 0);
  state_hash_ += record_hash(account);
}

void Ledger::set_status(std::uint32_t slot, PendingStatus status) noexcept {
  TransferRecord& record = transfers_[slot];
  if (in_scope_) undo_.push_back({Undo::Kind::transfer_status_changed, slot, record.status, {}});
  mark_chunk(transfer_chunk_changed_, transfer_copies_, slot);
  state_hash_ -= record_hash(record);
  record.status = status;
  state_hash_ += record_hash(record);
}

void Ledger::record_history(const TransferRecord& record, std::uint32_t debit_slot,
                            std::uint32_t credit_slot, std::uint64_t timestamp, bool expired) {
  if (history_ == nullptr) return;
  history_->push_back({record, timestamp, expired ? 1u : 0u, balances_of(accounts_[debit_slot]),
                       balances_of(accounts_[credit_slot])});
}

void Ledger::open_scope() noexcept {
  CAP_ASSERT(!in_scope_ && undo_.empty());
  in_scope_ = true;
  scope_state_hash_ = state_hash_;
  scope_history_size_ = history_ ? history_->size() : 0;
}

void Ledger::close_scope() noexcept {
  CAP_ASSERT(in_scope_);
  in_scope_ = false;
  undo_.clear();
}

void Ledger::rollback_scope() noexcept {
  CAP_ASSERT(in_scope_);
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    switch (it->kind) {
      case Undo::Kind::account_changed:
        accounts_[it->slot] = it->account;
        break;
      case Undo::Kind::account_created:
        CAP_ASSERT(it->slot + 1 == accounts_.size());
        account_slots_.erase(accounts_.back().id);
        accounts_.pop_back();
        break;
      case Undo::Kind::transfer_created:
        CAP_ASSERT(it->slot + 1 == transfers_.size());
        transfer_slots_.erase(transfers_.back().transfer.id);
        transfers_.pop_back();
        break;
      case Undo::Kind::transfer_status_changed:
        transfers_[it->slot].status = it->status;
        break;
    }
  }
  state_hash_ = scope_state_hash_;
  if (history_) history_->resize(scope_history_size_);
  in_scope_ = false;
  undo_.clear();
}

void Ledger::reserve_transfers(std::size_t more) {
  transfer_slots_.reserve(std::min<std::size_t>(transfers_.size() + more, transfers_max));
}

std::size_t Ledger::changed_bytes() const noexcept {
  const auto marked = [](const std::vector<std::uint8_t>& changed) {
    return static_cast<std::size_t>(std::count(changed.begin(), changed.end(), std::uint8_t{1}));
  };
  return checkpoint_chunk_records * (marked(account_chunk_changed_) * sizeof(Account) +
                                     marked(transfer_chunk_changed_) * sizeof(TransferRecord));
}

Ledger::ChangedChunks Ledger::take_changed_chunks() {
  return {take_marks(account_chunk_changed_), take_marks(transfer_chunk_changed_), &account_copies_,
          &transfer_copies_};
}

void Ledger::restore(std::vector<Account> accounts, std::vector<TransferRecord> transfers) {
  CAP_ASSERT(!in_scope_ && account_copies_.waiting() == 0 && transfer_copies_.waiting() == 0);
  account_chunk_changed_.clear();
  transfer_chunk_changed_.clear();
  accounts_.clear();
  transfers_.clear();
  for (const Account& account : accounts) accounts_.push_back(account);
  for (const TransferRecord& record : transfers) transfers_.push_back(record);
  accounts = {};
  transfers = {};
  account_slots_.reset(accounts_.size());
  transfer_slots_.reset(transfers_.size());
  expiries_ = {};
  state_hash_ = 0;
  for (std::uint32_t slot = 0; slot < accounts_.size(); ++slot) {
    CAP_ASSERT(account_slots_.try_emplace(accounts_[slot].id, slot).second);
    state_hash_ += record_hash(accounts_[slot]);
  }
  for (std::uint32_t slot = 0; slot < transfers_.size(); ++slot) {
    const TransferRecord& record = transfers_[slot];
    CAP_ASSERT(transfer_slots_.try_emplace(record.transfer.id, slot).second);
    state_hash_ += record_hash(record);
    if (record.status == PendingStatus::pending && record.transfer.timeout_s != 0) {
      expiries_.push({expires_at(record), record.transfer.id, slot});
    }
  }
}

std::string Ledger::check_invariants() const {
  struct Totals {
    __int128 debits_pending = 0, debits_posted = 0, credits_pending = 0, credits_posted = 0;
  };
  std::map<std::uint32_t, Totals> per_ledger;
  std::uint64_t hash = 0;
  if (account_slots_.size() != accounts_.size()) return "account index size differs from accounts";
  for (std::uint32_t slot = 0; slot < accounts_.size(); ++slot) {
    const Account& a = accounts_[slot];
    hash += record_hash(a);
    const std::uint32_t* indexed = account_slots_.find(a.id);
    if (indexed == nullptr || *indexed != slot) {
      return fmt::format("account {} is not indexed at its slot", a.id);
    }
    if (!debit_allowed(a, 0)) return fmt::format("account {} debits exceed its credits", a.id);
    if (!credit_allowed(a, 0)) return fmt::format("account {} credits exceed its debits", a.id);
    Totals& totals = per_ledger[a.ledger];
    totals.debits_pending += a.debits_pending;
    totals.debits_posted += a.debits_posted;
    totals.credits_pending += a.credits_pending;
    totals.credits_posted += a.credits_posted;
  }
  for (const auto& [ledger, totals] : per_ledger) {
    if (totals.debits_posted != totals.credits_posted) {
      return fmt::format("ledger {}: posted debits differ from posted credits", ledger);
    }
    if (totals.debits_pending != totals.credits_pending) {
      return fmt::format("ledger {}: pending debits differ from pending credits", ledger);
    }
  }
  if (transfer_slots_.size() != transfers_.size()) {
    return "transfer index size differs from transfers";
  }
  absl::flat_hash_map<std::uint64_t, std::int64_t> held_debits, held_credits;
  for (std::uint32_t slot = 0; slot < transfers_.size(); ++slot) {
    const TransferRecord& r = transfers_[slot];
    hash += record_hash(r);
    const std::uint32_t* indexed = transfer_slots_.find(r.transfer.id);
    if (indexed == nullptr || *indexed != slot) {
      return fmt::format("transfer {} is not indexed at its slot", r.transfer.id);
    }
    if (r.status == PendingStatus::pending) {
      held_debits[r.transfer.debit_account_id] += r.transfer.amount;
      held_credits[r.transfer.credit_account_id] += r.transfer.amount;
    }
  }
  for (const Account& a : accounts_) {
    const auto held = [](const auto& map, std::uint64_t id) {
      const auto it = map.find(id);
      return it == map.end() ? 0 : it->second;
    };
    if (a.debits_pending != held(held_debits, a.id) ||
        a.credits_pending != held(held_credits, a.id)) {
      return fmt::format("account {} pending totals differ from its pending holds", a.id);
    }
  }
  if (hash != state_hash_) return "state hash differs from the hash of the records";
  return {};
}

}  // namespace capillary::ledger
