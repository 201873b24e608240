#pragma once
// The payments module of the state machine: users, merchants, escrow orders, QR payments, red
// packets, coupon campaigns, top-ups and withdrawals, as commands that compose ledger transfers
// into linked chains. It never writes a balance: every movement is a ledger transfer, so the
// ledger enforces double entry and every balance constraint, and a command either applies all of
// its transfers or none (the chain fails as one and the module's own state is left untouched).
//
// Deterministic and single-threaded like the ledger: the same commands at the same timestamps
// give the same results and the same state hash. Time comes only from the batch timestamps the
// engine passes in, which is also what drives auto-confirmation and red-packet expiry (advance).
//
// Invariants (check_invariants, and asserted where the arithmetic happens):
// - the escrow account's balance equals the sum of every order's `held`;
// - every order's held == sum of its per-source refundable amounts while it is paid;
// - every red packet's account balance equals its `remaining`;
// - released == held at release, fee <= released, refunded <= amount.

#include <cstdint>
#include <optional>
#include <deque>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/ledger.h"
#include "payments/accounts.h"
#include "payments/chain.h"
#include "payments/command.h"
#include "payments/records.h"
#include "payments/result.h"
#include "payments/table.h"
#include "fund/funds.h"
#include "wealth/market.h"

namespace capillary::payments {

// The next claim's share of a red packet (see red_packets.cc); exposed for tests of the split.
std::int64_t red_packet_share(const RedPacketRecord& packet) noexcept;

class Payments {
 public:
  explicit Payments(ledger::Ledger& ledger);
  Payments(const Payments&) = delete;
  Payments& operator=(const Payments&) = delete;

  // Applies commands in order, one outcome each. Balance changes are stamped from
  // `first_timestamp` on, one timestamp per ledger event; returns how many were used.
  std::uint64_t apply(std::span<const Command> commands, std::uint64_t first_timestamp,
                      std::span<Outcome> outcomes) noexcept;
  // Runs what the clock made due at `now`: auto-confirmations and red-packet returns. Stamps from
  // `now` on; returns how many timestamps it used.
  std::uint64_t advance(std::uint64_t now) noexcept;
  // When advance() next has something to do.
  std::optional<std::uint64_t> next_deadline() const noexcept;

  // Order state changes since the last call, for merchant notifications.
  void take_events(std::vector<OrderEvent>* events);

  const UserRecord* find_user(std::uint64_t id) const noexcept { return users_.find(id); }
  const MerchantRecord* find_merchant(std::uint64_t id) const noexcept { return merchants_.find(id); }
  const InstitutionRecord* find_institution(std::uint64_t id) const noexcept {
    return institutions_.find(id);
  }
  const OrderRecord* find_order(std::uint64_t id) const noexcept { return orders_.find(id); }
  const RedPacketRecord* find_red_packet(std::uint64_t id) const noexcept { return packets_.find(id); }
  const CampaignRecord* find_campaign(std::uint64_t id) const noexcept { return campaigns_.find(id); }
  const WithdrawalRecord* find_withdrawal(std::uint64_t id) const noexcept { return withdrawals_.find(id); }
  // Withdrawals whose payout is not settled yet, oldest first.
  std::vector<WithdrawalRecord> held_withdrawals() const;
  const IdempotencyRecord* find_command(std::uint64_t id) const noexcept { return commands_.find(id); }
  const SettlementRecord* find_settlement(std::uint64_t merchant, std::uint64_t day) const noexcept {
    return settlements_.find({merchant, day});
  }
  // Coupons of `campaign` the user holds in paid orders now.
  std::uint64_t coupons_in_use(std::uint64_t campaign, std::uint64_t user) const noexcept;
  std::size_t orders() const noexcept { return orders_.size(); }
  // The money-market funds (src/fund) and the wealth marketplace (src/wealth), whose commands
  // this module applies.
  const fund::Funds& funds() const noexcept { return funds_; }
  const wealth::Market& market() const noexcept { return market_; }

  std::uint64_t state_hash() const noexcept;
  // Empty when every invariant holds, else the first broken one.
  std::string check_invariants() const;

  // The whole module state as bytes, and back (checkpoints). restore() rebuilds the deadlines.
  // With `parts`, the tables' records and the fund registers go there instead, only their chunks
  // changed since the last such save (Table::take_changed, fund::Funds::save): a checkpoint keeps
  // the others from before, and the bytes keep the rest, which is small. restore() also reads
  // what save() wrote before the tables went apart. The tables' chunks may be copied into parts
  // later, by `later` (core/chunk_copies.h).
  std::string save(fund::Parts* parts = nullptr, CopyLater* later = nullptr) const;
  // About the bytes save(parts) would copy into parts now: the tables' changed chunks.
  std::size_t changed_bytes() const noexcept;
  bool restore(std::string_view bytes, const fund::Parts* parts = nullptr);

 private:
  struct Deadline {
    std::uint64_t at;
    std::uint64_t id;
    bool order;  // else a red packet
    bool operator>(const Deadline& other) const { return at > other.at; }
  };
  using Pair = std::pair<std::uint64_t, std::uint64_t>;

  void prefetch(std::span<const Command> commands, std::size_t i) const noexcept;
  Outcome apply_one(const Command& command) noexcept;
  Result authorize(const Command& command) const noexcept;
  Outcome open_user(const Command& command) noexcept;
  Outcome open_merchant(const Command& command) noexcept;
  Outcome top_up(const Command& command) noexcept;
  Outcome withdraw(const Command& command) noexcept;
  Outcome withdraw_settle(const Command& command) noexcept;
  Outcome transfer(const Command& command, TransferCode code, bool to_merchant) noexcept;
  Outcome create_order(const Command& command) noexcept;
  Outcome pay_order(const Command& command) noexcept;
  Outcome confirm_order(const Command& command) noexcept;
  Outcome refund_order(const Command& command) noexcept;
  Outcome close_order(const Command& command) noexcept;
  Outcome qr_pay(const Command& command) noexcept;
  Outcome create_red_packet(const Command& command) noexcept;
  Outcome claim_red_packet(const Command& command) noexcept;
  Outcome create_campaign(const Command& command) noexcept;
  Outcome open_institution(const Command& command) noexcept;
  Outcome apply_product(const Command& command) noexcept;

  // What each source of a payment gave.
  struct Funded {
    std::int64_t wallet, red_packet, card, coupon, fund;
  };
  // Records what the payment took from fund shares once its chain committed (`at`: its time).
  void note_fund_spent(const Command& command, const Funded& funded, std::uint64_t at) noexcept;
  // Checks a payment's sources against `due` and appends their legs (each source → `credit`).
  Result fund(const Command& command, std::int64_t due, std::uint64_t credit,
              std::uint64_t user_data, TransferCode code, Funded* funded) noexcept;
  void note_coupon_used(std::uint64_t campaign, std::uint64_t user) noexcept;
  void note_coupon_returned(std::uint64_t campaign, std::uint64_t user) noexcept;
  Result ensure_platform_accounts() noexcept;
  Result release(OrderRecord& order) noexcept;
  void expire_red_packet(RedPacketRecord& packet) noexcept;

  void record_event(OrderRecord& order) noexcept;
  void add_settlement(std::uint64_t merchant, std::int64_t gross, std::int64_t fee,
                      std::int64_t refunds, std::uint64_t orders) noexcept;

  ledger::Ledger& ledger_;
  Table<std::uint64_t, UserRecord> users_{1};
  Table<std::uint64_t, MerchantRecord> merchants_{2};
  Table<std::uint64_t, OrderRecord> orders_{3};
  Table<std::uint64_t, RedPacketRecord> packets_{4};
  Table<std::uint64_t, CampaignRecord> campaigns_{5};
  Table<std::uint64_t, WithdrawalRecord> withdrawals_{6};
  Table<Pair, PairRecord> claims_{7};         // (red packet, user) → amount claimed
  Table<Pair, PairRecord> coupons_{8};        // (campaign, user) → coupons in paid orders
  Table<Pair, SettlementRecord> settlements_{9};
  Table<std::uint64_t, IdempotencyRecord> commands_{10};
  Table<Pair, PairRecord> order_numbers_{11}; // (merchant, order number) → order id
  Table<std::uint64_t, InstitutionRecord> institutions_{12};
  std::uint64_t record_sequence_ = 0;         // ids of orders, red packets, campaigns, withdrawals
  // Every paid order waits here until it is released, millions on a peak day: a deque grows a
  // block at a time, where a vector would copy them all into fresh memory inside one payment.
  std::priority_queue<Deadline, std::deque<Deadline>, std::greater<Deadline>> deadlines_;

  fund::Funds funds_;
  wealth::Market market_;
  // The current command's transfers, the clock and the transfer id sequence.
  Chain chain_;
  std::vector<OrderEvent> events_;
};

}  // namespace capillary::payments
