// The module's frame: dispatch, authorization, idempotency, the chain builder, the clock-driven
// work, invariants and checkpoints. The commands themselves live in wallet.cc, orders.cc,
// red_packets.cc and campaigns.cc.

#include "payments/payments.h"

#include <fmt/format.h>

#include <cstring>

#include "core/assert.h"
#include "core/prefetch.h"
#include "payments/limits.h"

namespace capillary::payments {
namespace {

// The saved layout's versions (bumped when it changes): tables inline, as checkpoints before
// format 3 wrote them (still read), or apart, their chunks in checkpoint parts.
constexpr std::uint64_t save_format_inline = 2;
constexpr std::uint64_t save_format_apart = 3;

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
    case CommandKind::fund_subscribe:
    case CommandKind::fund_redeem:
    case CommandKind::place_standing_order:
    case CommandKind::cancel_standing_order:
      return true;
    default:
      return false;
  }
}

bool is_merchant_command(CommandKind kind) {
  return kind == CommandKind::create_order || kind == CommandKind::refund_order ||
         kind == CommandKind::close_order || kind == CommandKind::create_campaign;
}

bool is_fund_command(CommandKind kind) {
  return kind >= CommandKind::create_fund && kind <= CommandKind::fund_deposit_float;
}

bool is_wealth_command(CommandKind kind) {
  return kind >= CommandKind::list_product && kind <= CommandKind::cancel_product;
}

// What a partner (an institution) may send, for itself: its funds and its products.
bool is_partner_command(CommandKind kind) {
  return kind == CommandKind::create_fund || kind == CommandKind::fund_declare_income ||
         kind == CommandKind::fund_income_step || kind == CommandKind::fund_deposit_float ||
         kind == CommandKind::list_product || kind == CommandKind::cancel_product;
}

bool is_user_product_command(CommandKind kind) {
  return kind == CommandKind::fund_subscribe || kind == CommandKind::fund_redeem ||
         kind == CommandKind::place_standing_order || kind == CommandKind::cancel_standing_order;
}

}  // namespace

Payments::Payments(ledger::Ledger& ledger) : ledger_(ledger), chain_(ledger) {}

std::uint64_t Payments::apply(std::span<const Command> commands, std::uint64_t first_timestamp,
                              std::span<Outcome> outcomes) noexcept {
  CAP_ASSERT(commands.size() == outcomes.size());
  chain_.set_now(first_timestamp);
  for (std::size_t i = 0; i < commands.size(); ++i) {
    prefetch(commands, i);
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
  return chain_.now() - first_timestamp;
}

// With millions of orders, users and idempotency keys nearly every lookup misses the cache
// (core/prefetch.h).
void Payments::prefetch(std::span<const Command> commands, std::size_t i) const noexcept {
  prefetch_ahead(
      commands, i,
      [this](const Command& ahead) {
        commands_.prefetch_index(ahead.id);
        orders_.prefetch_index(ahead.target);
        users_.prefetch_index(ahead.party);
        users_.prefetch_index(ahead.counterparty);
      },
      [this](const Command& ahead) {
        orders_.prefetch_record(ahead.target);
        users_.prefetch_record(ahead.party);
      });
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
    case CommandKind::transfer: return transfer(command, TransferCode::transfer, false);
    case CommandKind::pay_bill: return transfer(command, TransferCode::bill, true);
    case CommandKind::create_order: return create_order(command);
    case CommandKind::pay_order: return pay_order(command);
    case CommandKind::confirm_order: return confirm_order(command);
    case CommandKind::refund_order: return refund_order(command);
    case CommandKind::close_order: return close_order(command);
    case CommandKind::qr_pay: return qr_pay(command);
    case CommandKind::create_red_packet: return create_red_packet(command);
    case CommandKind::claim_red_packet: return claim_red_packet(command);
    case CommandKind::create_campaign: return create_campaign(command);
    case CommandKind::open_institution: return open_institution(command);
    case CommandKind::create_fund:
    case CommandKind::fund_subscribe:
    case CommandKind::fund_redeem:
    case CommandKind::fund_declare_income:
    case CommandKind::fund_income_step:
    case CommandKind::fund_deposit_float:
    case CommandKind::list_product:
    case CommandKind::place_standing_order:
    case CommandKind::cancel_standing_order:
    case CommandKind::cancel_product:
      return apply_product(command);
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
  if (kind == PartyKind::partner && is_partner_command(command.kind) && command.party == id) {
    return Result::ok;
  }
  return Result::forbidden;
}

// The fund and wealth modules get commands whose party is known: an open user for a user's
// command, an open institution for a partner's.
Outcome Payments::apply_product(const Command& command) noexcept {
  const InstitutionRecord* institution = nullptr;
  if (is_user_product_command(command.kind)) {
    if (users_.find(command.party) == nullptr) return outcome(Result::user_not_found);
  } else if (is_partner_command(command.kind)) {
    // Sent by the institution itself or by the platform on its behalf.
    institution = institutions_.find(command.party);
    if (institution == nullptr) return outcome(Result::institution_not_found);
  }
  if (is_fund_command(command.kind)) return funds_.apply(command, chain_, institution);
  CAP_ASSERT(is_wealth_command(command.kind));
  return market_.apply(command, chain_, institution);
}

void Payments::record_event(OrderRecord& order) noexcept {
  ++order.events;
  OrderEvent event{};
  event.merchant = order.merchant;
  event.order = order.id;
  event.timestamp = chain_.now();
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
  const std::uint64_t day = business_day(chain_.now());
  SettlementRecord record{merchant, day, 0, 0, 0, 0};
  if (const SettlementRecord* found = settlements_.find({merchant, day})) record = *found;
  record.orders += orders;
  record.gross += gross;
  record.fees += fee;
  record.refunds += refunds;
  settlements_.put({merchant, day}, record);
}

std::uint64_t Payments::advance(std::uint64_t now) noexcept {
  chain_.set_now(now);
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
  chain_.clear();
  funds_.advance(chain_);
  chain_.clear();
  market_.advance(chain_);
  return chain_.now() - now;
}

std::optional<std::uint64_t> Payments::next_deadline() const noexcept {
  std::optional<std::uint64_t> next = market_.next_deadline();
  if (const auto fund = funds_.next_deadline(); fund && (!next || *fund < *next)) next = fund;
  if (!deadlines_.empty() && (!next || deadlines_.top().at < *next)) next = deadlines_.top().at;
  return next;
}

std::uint64_t Payments::coupons_in_use(std::uint64_t campaign, std::uint64_t user) const noexcept {
  const PairRecord* found = coupons_.find({campaign, user});
  return found == nullptr ? 0 : found->count;
}

std::uint64_t Payments::state_hash() const noexcept {
  // Counters are part of the state: two states that would give the next transfer different ids
  // are different states.
  const std::uint64_t counters[2] = {chain_.sequence(), record_sequence_};
  return users_.hash() + merchants_.hash() + orders_.hash() + packets_.hash() + campaigns_.hash() +
         withdrawals_.hash() + claims_.hash() + coupons_.hash() + settlements_.hash() +
         commands_.hash() + order_numbers_.hash() + institutions_.hash() + funds_.state_hash() + market_.state_hash() +
         (chain_.sequence() == 0 && record_sequence_ == 0 ? 0 : checksum(counters, sizeof(counters)));
}

std::string Payments::check_invariants() const {
  std::int64_t held = 0;
  std::string broken;
  orders_.for_each([&](const OrderRecord& order) {
    held += order.held;
    if (!broken.empty()) return;
    const std::int64_t sources =
        order.from_wallet + order.from_red_packet + order.from_card + order.from_coupon + order.from_fund;
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
  if (std::string funds = funds_.check_invariants(ledger_); !funds.empty()) return funds;
  if (std::string market = market_.check_invariants(ledger_); !market.empty()) return market;
  packets_.for_each([&](const RedPacketRecord& packet) {
    if (!broken.empty()) return;
    const std::int64_t balance = chain_.available(account_id(AccountKind::packet, packet.id));
    if (balance != packet.remaining) {
      broken = fmt::format("red packet {} remembers {} but its account holds {}", packet.id,
                           packet.remaining, balance);
    }
  });
  return broken;
}

// Layout: version u64, transfer sequence u64, record sequence u64; then each table, in the order
// of the members: inline (Table::save) in the inline format, or in the apart format only its
// record count u64, its changed chunks going to `parts` (Table::take_changed); then the funds and
// the market.
std::string Payments::save(fund::Parts* parts, CopyLater* later) const {
  std::string out;
  const std::uint64_t header[3] = {parts == nullptr ? save_format_inline : save_format_apart,
                                   chain_.sequence(), record_sequence_};
  out.append(reinterpret_cast<const char*>(header), sizeof(header));
  const auto save_table = [&](const auto& table) {
    if (parts == nullptr) {
      table.save(&out);
      return;
    }
    const std::uint64_t count = table.size();
    out.append(reinterpret_cast<const char*>(&count), sizeof(count));
    table.take_changed(parts, later);
  };
  save_table(users_);
  save_table(merchants_);
  save_table(orders_);
  save_table(packets_);
  save_table(campaigns_);
  save_table(withdrawals_);
  save_table(claims_);
  save_table(coupons_);
  save_table(settlements_);
  save_table(commands_);
  save_table(order_numbers_);
  save_table(institutions_);
  funds_.save(&out, parts);
  market_.save(&out);
  return out;
}

std::size_t Payments::changed_bytes() const noexcept {
  return users_.changed_bytes() + merchants_.changed_bytes() + orders_.changed_bytes() +
         packets_.changed_bytes() + campaigns_.changed_bytes() + withdrawals_.changed_bytes() +
         claims_.changed_bytes() + coupons_.changed_bytes() + settlements_.changed_bytes() +
         commands_.changed_bytes() + order_numbers_.changed_bytes() + institutions_.changed_bytes();
}

bool Payments::restore(std::string_view bytes, const fund::Parts* parts) {
  std::uint64_t header[3];
  if (bytes.size() < sizeof(header)) return false;
  std::memcpy(header, bytes.data(), sizeof(header));
  const bool apart = header[0] == save_format_apart;
  if ((header[0] != save_format_inline && !apart) || (apart && parts == nullptr)) return false;
  bytes.remove_prefix(sizeof(header));
  chain_.set_sequence(header[1]);
  record_sequence_ = header[2];
  const auto load_table = [&](auto& table, auto key_of) {
    if (!apart) return table.load(&bytes, key_of);
    std::uint64_t count = 0;
    if (bytes.size() < sizeof(count)) return false;
    std::memcpy(&count, bytes.data(), sizeof(count));
    bytes.remove_prefix(sizeof(count));
    return table.load_parts(count, *parts, key_of);
  };
  const auto by_id = [](const auto& record) { return record.id; };
  const auto by_pair = [](const PairRecord& record) { return Pair{record.first, record.second}; };
  const auto by_day = [](const SettlementRecord& record) {
    return Pair{record.merchant, record.day};
  };
  const bool loaded = load_table(users_, by_id) && load_table(merchants_, by_id) &&
                      load_table(orders_, by_id) && load_table(packets_, by_id) &&
                      load_table(campaigns_, by_id) && load_table(withdrawals_, by_id) &&
                      load_table(claims_, by_pair) && load_table(coupons_, by_pair) &&
                      load_table(settlements_, by_day) && load_table(commands_, by_id) &&
                      load_table(order_numbers_, by_pair) && load_table(institutions_, by_id) &&
                      funds_.load(&bytes, parts) && market_.load(&bytes);
  if (!loaded || !bytes.empty()) return false;
  deadlines_ = {};
  orders_.for_each([&](const OrderRecord& order) {
    if (order.state == OrderState::paid) deadlines_.push({order.release_at, order.id, true});
  });
  packets_.for_each([&](const RedPacketRecord& packet) {
    if (packet.expired == 0) deadlines_.push({packet.expires_at, packet.id, false});
  });
  return true;
}

}  // namespace capillary::payments
