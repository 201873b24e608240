// The module's frame: dispatch, authorization, idempotency, the chain builder, the clock-driven
// work, invariants and checkpoints. The commands themselves live in wallet.cc, orders.cc,
// red_packets.cc and campaigns.cc.

#include "payments/payments.h"

#include <fmt/format.h>

#include <cstring>

#include "core/assert.h"
#include "payments/limits.h"

namespace capillary::payments {
namespace {

// Bumped when the saved layout changes.
constexpr std::uint64_t save_format_version = 1;


bool is_user_command(CommandKind kind) {
  switch (kind) {
    case CommandKind::top_up:
    case CommandKind::withdraw:
    case CommandKind::transfer:
    case CommandKind::pay_bill:
    case CommandKind::pay_order:
    case CommandKind::confirm_order:
    case CommandKind::qr_pay:
    case CommandKind::create_red_packet:
    case CommandKind::claim_red_packet:
      return true;
    default:
      return false;
  }
}

bool is_merchant_command(CommandKind kind) {
  return kind == CommandKind::create_order || kind == CommandKind::refund_order ||
         kind == CommandKind::close_order || kind == CommandKind::create_campaign;
}

}  // namespace

Payments::Payments(ledger::Ledger& ledger) : ledger_(ledger) {
  chain_.reserve(16);
  chain_results_.reserve(16);
}

std::uint64_t Payments::apply(std::span<const Command> commands, std::uint64_t first_timestamp,
                              std::span<Outcome> outcomes) noexcept {
  CAP_ASSERT(commands.size() == outcomes.size());
  now_ = first_timestamp;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    const Command& command = commands[i];
    if (const IdempotencyRecord* seen = commands_.find(command.id); seen != nullptr && command.id != 0) {
      if (seen->request_hash != command.request_hash) {
        outcomes[i] = outcome(Result::idempotency_key_reused);
      } else {
        outcomes[i] = seen->outcome;
        outcomes[i].replayed = 1;
      }
      continue;
    }
    outcomes[i] = apply_one(command);
    if (command.id != 0) commands_.put(command.id, {command.id, command.request_hash, outcomes[i]});
  }
  return now_ - first_timestamp;
}

Outcome Payments::apply_one(const Command& command) noexcept {
  if (command.id == 0) return outcome(Result::id_must_not_be_zero);
  if (command.reserved8 != 0 || command.risk > RiskVerdict::deny || command.terms.reserved != 0 ||
      command.bank.reserved[0] != 0 || command.bank.reserved[1] != 0 || command.bank.reserved[2] != 0) {
    return outcome(Result::invalid_command);
  }
  if (const Result allowed = authorize(command); allowed != Result::ok) return outcome(allowed);
  if (command.risk == RiskVerdict::deny) return outcome(Result::risk_denied);
  if (command.risk == RiskVerdict::challenge) return outcome(Result::risk_challenge_required);
  chain_.clear();
  switch (command.kind) {
    case CommandKind::open_user: return open_user(command);
    case CommandKind::open_merchant: return open_merchant(command);
    case CommandKind::top_up: return top_up(command);
    case CommandKind::withdraw: return withdraw(command);
    case CommandKind::withdraw_settle: return withdraw_settle(command);
    case CommandKind::transfer: {
      ledger::Transfer base{};
      base.code = static_cast<std::uint16_t>(TransferCode::transfer);
      return transfer(command, base, false);
    }
    case CommandKind::pay_bill: {
      ledger::Transfer base{};
      base.code = static_cast<std::uint16_t>(TransferCode::bill);
      return transfer(command, base, true);
    }
    case CommandKind::create_order: return create_order(command);
    case CommandKind::pay_order: return pay_order(command);
    case CommandKind::confirm_order: return confirm_order(command);
    case CommandKind::refund_order: return refund_order(command);
    case CommandKind::close_order: return close_order(command);
    case CommandKind::qr_pay: return qr_pay(command);
    case CommandKind::create_red_packet: return create_red_packet(command);
    case CommandKind::claim_red_packet: return claim_red_packet(command);
    case CommandKind::create_campaign: return create_campaign(command);
  }
  return outcome(Result::invalid_command);
}

// The platform may act for anyone; a user only for itself; a merchant only for itself (and, in
// the order commands, only on its own orders). Opening parties and settling withdrawals are the
// platform's alone.
Result Payments::authorize(const Command& command) const noexcept {
  const PartyKind kind = principal_kind(command.principal);
  if (command.party > party_id_max || command.counterparty > party_id_max) return Result::party_id_invalid;
  if (kind == PartyKind::platform) return Result::ok;
  const std::uint64_t id = principal_id(command.principal);
  if (kind == PartyKind::user && is_user_command(command.kind) && command.party == id) return Result::ok;
  if (kind == PartyKind::merchant && is_merchant_command(command.kind) && command.party == id) {
    return Result::ok;
  }
  return Result::forbidden;
}

void Payments::leg(std::uint64_t debit, std::uint64_t credit, std::int64_t amount, std::uint16_t code,
                   std::uint64_t user_data, std::uint16_t flags, std::uint64_t pending_id,
                   std::uint32_t timeout_s) {
  ledger::Transfer transfer{};
  transfer.id = transfer_id(transfer_sequence_ + chain_.size() + 1);
  transfer.debit_account_id = debit;
  transfer.credit_account_id = credit;
  transfer.amount = amount;
  transfer.pending_id = pending_id;
  transfer.user_data = user_data;
  transfer.timeout_s = timeout_s;
  transfer.ledger = ledger_cny;
  transfer.code = code;
  transfer.flags = flags;
  chain_.push_back(transfer);
}

// A failing leg's ledger result, in the caller's terms: running short on a source is the
// business rejection of that source; anything else is a bug in the module or an exhausted cell.
Result Payments::commit_chain() noexcept {
  if (chain_.empty()) return Result::ok;
  for (std::size_t i = 0; i + 1 < chain_.size(); ++i) chain_[i].flags |= ledger::transfer_linked;
  chain_results_.resize(chain_.size());
  ledger_.create_transfers(chain_, now_, chain_results_);
  now_ += chain_.size();
  for (std::size_t i = 0; i < chain_.size(); ++i) {
    const ledger::CreateTransferResult result = chain_results_[i];
    if (result == ledger::CreateTransferResult::ok ||
        result == ledger::CreateTransferResult::linked_event_failed) {
      continue;
    }
    if (result == ledger::CreateTransferResult::exceeds_credits) {
      switch (static_cast<AccountKind>((chain_[i].debit_account_id >> 56) & 0x7f)) {
        case AccountKind::wallet: return Result::insufficient_wallet;
        case AccountKind::red_packet: return Result::insufficient_red_packet;
        case AccountKind::merchant: return Result::insufficient_merchant_balance;
        case AccountKind::campaign: return Result::coupon_budget_exhausted;
        default: break;
      }
    }
    CAP_ASSERT(result == ledger::CreateTransferResult::transfers_full ||
               result == ledger::CreateTransferResult::overflows_credits_posted ||
               result == ledger::CreateTransferResult::overflows_debits_posted ||
               result == ledger::CreateTransferResult::overflows_credits ||
               result == ledger::CreateTransferResult::overflows_debits);
    return Result::ledger_rejected;
  }
  transfer_sequence_ += chain_.size();
  return Result::ok;
}

Result Payments::open_accounts(std::span<const ledger::AccountSpec> specs) noexcept {
  std::vector<ledger::AccountSpec> chain(specs.begin(), specs.end());
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) chain[i].flags |= ledger::account_linked;
  std::vector<ledger::CreateAccountResult> results(chain.size());
  ledger_.create_accounts(chain, now_, results);
  now_ += chain.size();
  for (const ledger::CreateAccountResult result : results) {
    if (result == ledger::CreateAccountResult::accounts_full) return Result::ledger_rejected;
    // The module checked its own tables first, so its accounts cannot exist already.
    CAP_ASSERT(result == ledger::CreateAccountResult::ok);
  }
  return Result::ok;
}

std::int64_t Payments::available(std::uint64_t account) const noexcept {
  const ledger::Account* found = ledger_.find_account(account);
  if (found == nullptr) return 0;
  return found->credits_posted - found->debits_posted - found->debits_pending;
}

void Payments::record_event(OrderRecord& order) noexcept {
  ++order.events;
  OrderEvent event{};
  event.merchant = order.merchant;
  event.order = order.id;
  event.timestamp = now_;
  event.amount = order.amount;
  event.refunded = order.refunded;
  event.sequence = order.events;
  event.state = order.state;
  events_.push_back(event);
}

void Payments::take_events(std::vector<OrderEvent>* events) {
  events->insert(events->end(), events_.begin(), events_.end());
  events_.clear();
}

void Payments::add_settlement(std::uint64_t merchant, std::int64_t gross, std::int64_t fee,
                              std::int64_t refunds, std::uint64_t orders) noexcept {
  const std::uint64_t day = business_day(now_);
  SettlementRecord record{merchant, day, 0, 0, 0, 0};
  if (const SettlementRecord* found = settlements_.find({merchant, day})) record = *found;
  record.orders += orders;
  record.gross += gross;
  record.fees += fee;
  record.refunds += refunds;
  settlements_.put({merchant, day}, record);
}

std::uint64_t Payments::advance(std::uint64_t now) noexcept {
  now_ = now;
  while (!deadlines_.empty() && deadlines_.top().at <= now) {
    const Deadline due = deadlines_.top();
    deadlines_.pop();
    chain_.clear();
    if (due.order) {
      const OrderRecord* found = orders_.find(due.id);
      // Stale when the order was confirmed, refunded or closed before its deadline.
      if (found == nullptr || found->state != OrderState::paid || found->release_at != due.at) continue;
      OrderRecord order = *found;
      const Result released = release(order);
      CAP_ASSERT(released == Result::ok);
    } else {
      const RedPacketRecord* found = packets_.find(due.id);
      if (found == nullptr || found->expired != 0) continue;
      RedPacketRecord packet = *found;
      expire_red_packet(packet);
    }
  }
  return now_ - now;
}

std::optional<std::uint64_t> Payments::next_deadline() const noexcept {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.top().at;
}

std::uint64_t Payments::coupons_in_use(std::uint64_t campaign, std::uint64_t user) const noexcept {
  const PairRecord* found = coupons_.find({campaign, user});
  return found == nullptr ? 0 : found->count;
}

std::uint64_t Payments::state_hash() const noexcept {
  // Counters are part of the state: two states that would give the next transfer different ids
  // are different states.
  const std::uint64_t counters[2] = {transfer_sequence_, record_sequence_};
  return users_.hash() + merchants_.hash() + orders_.hash() + packets_.hash() + campaigns_.hash() +
         withdrawals_.hash() + claims_.hash() + coupons_.hash() + settlements_.hash() +
         commands_.hash() + order_numbers_.hash() +
         (transfer_sequence_ == 0 && record_sequence_ == 0 ? 0 : checksum(counters, sizeof(counters)));
}

std::string Payments::check_invariants() const {
  std::int64_t held = 0;
  std::string broken;
  orders_.for_each([&](std::uint64_t, const OrderRecord& order) {
    held += order.held;
    if (!broken.empty()) return;
    const std::int64_t sources =
        order.from_wallet + order.from_red_packet + order.from_card + order.from_coupon;
    if (order.state == OrderState::paid && sources != order.held) {
      broken = fmt::format("order {} holds {} but its sources add up to {}", order.id, order.held, sources);
    } else if (order.state != OrderState::paid && order.held != 0) {
      broken = fmt::format("order {} is not paid but holds {}", order.id, order.held);
    } else if (order.refunded > order.amount || order.fee > order.released) {
      broken = fmt::format("order {} refunded or charged more than it took", order.id);
    }
  });
  if (!broken.empty()) return broken;
  const ledger::Account* escrow = ledger_.find_account(platform_account(PlatformAccount::escrow));
  const std::int64_t in_escrow = escrow == nullptr ? 0 : escrow->credits_posted - escrow->debits_posted;
  if (in_escrow != held) return fmt::format("escrow holds {} but orders hold {}", in_escrow, held);
  packets_.for_each([&](std::uint64_t, const RedPacketRecord& packet) {
    if (!broken.empty()) return;
    const std::int64_t balance = available(account_id(AccountKind::packet, packet.id));
    if (balance != packet.remaining) {
      broken = fmt::format("red packet {} remembers {} but its account holds {}", packet.id,
                           packet.remaining, balance);
    }
  });
  return broken;
}

std::string Payments::save() const {
  std::string out;
  const std::uint64_t header[3] = {save_format_version, transfer_sequence_, record_sequence_};
  out.append(reinterpret_cast<const char*>(header), sizeof(header));
  users_.save(&out);
  merchants_.save(&out);
  orders_.save(&out);
  packets_.save(&out);
  campaigns_.save(&out);
  withdrawals_.save(&out);
  claims_.save(&out);
  coupons_.save(&out);
  settlements_.save(&out);
  commands_.save(&out);
  order_numbers_.save(&out);
  return out;
}

bool Payments::restore(std::string_view bytes) {
  std::uint64_t header[3];
  if (bytes.size() < sizeof(header)) return false;
  std::memcpy(header, bytes.data(), sizeof(header));
  if (header[0] != save_format_version) return false;
  bytes.remove_prefix(sizeof(header));
  transfer_sequence_ = header[1];
  record_sequence_ = header[2];
  const auto by_id = [](const auto& record) { return record.id; };
  const auto by_pair = [](const PairRecord& record) { return Pair{record.first, record.second}; };
  const bool loaded =
      users_.load(&bytes, by_id) && merchants_.load(&bytes, by_id) && orders_.load(&bytes, by_id) &&
      packets_.load(&bytes, by_id) && campaigns_.load(&bytes, by_id) &&
      withdrawals_.load(&bytes, by_id) && claims_.load(&bytes, by_pair) &&
      coupons_.load(&bytes, by_pair) &&
      settlements_.load(&bytes, [](const SettlementRecord& r) { return Pair{r.merchant, r.day}; }) &&
      commands_.load(&bytes, by_id) && order_numbers_.load(&bytes, by_pair);
  if (!loaded || !bytes.empty()) return false;
  deadlines_ = {};
  orders_.for_each([&](std::uint64_t id, const OrderRecord& order) {
    if (order.state == OrderState::paid) deadlines_.push({order.release_at, id, true});
  });
  packets_.for_each([&](std::uint64_t id, const RedPacketRecord& packet) {
    if (packet.expired == 0) deadlines_.push({packet.expires_at, id, false});
  });
  return true;
}

}  // namespace capillary::payments
