// Red packets: a sender funds `count` packets from its wallet; each claim moves one packet into
// the claimer's red-packet balance; what is unclaimed after red_packet_lifetime_s goes back to the
// sender. A random split is reproducible: claim k's share is a function of the journaled seed, k
// and what is left, so a replay gives every claimer the same amount.

#include <algorithm>

#include "core/assert.h"
#include "payments/limits.h"
#include "payments/payments.h"

namespace capillary::payments {
namespace {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

// The next claim's share. Fixed: equal shares, the first `total % count` claims one fen more.
// Random: uniform in [1, min(2 × the mean of what is left − 1, what is left − 1 fen for each
// later claim)], the classic "twice the mean" split; the last claim takes the rest.
std::int64_t red_packet_share(const RedPacketRecord& packet) noexcept {
  const std::uint32_t left = packet.count - packet.claimed;
  CAP_ASSERT(left > 0 && packet.remaining >= left);
  if (left == 1) return packet.remaining;
  if (packet.split == split_fixed) {
    const std::int64_t base = packet.total / packet.count;
    return base + (packet.claimed < packet.total % packet.count ? 1 : 0);
  }
  const std::int64_t most = packet.remaining - (left - 1);
  const std::int64_t twice_mean = 2 * packet.remaining / left;
  const std::int64_t upper = std::max<std::int64_t>(1, std::min(most, twice_mean - 1));
  const std::uint64_t draw = splitmix64(packet.seed ^ splitmix64(packet.claimed));
  const std::int64_t share = 1 + static_cast<std::int64_t>(draw % static_cast<std::uint64_t>(upper));
  CAP_ASSERT(share >= 1 && share <= most);
  return share;
}

Outcome Payments::create_red_packet(const Command& command) noexcept {
  if (command.amount <= 0) return outcome(Result::amount_must_be_positive);
  if (command.amount > amount_max) return outcome(Result::amount_too_large);
  if (users_.find(command.party) == nullptr) return outcome(Result::user_not_found);
  const std::uint64_t count = command.b;
  if (count == 0 || count > red_packet_count_max) return outcome(Result::red_packet_count_invalid);
  if (command.amount < static_cast<std::int64_t>(count)) return outcome(Result::red_packet_amount_too_small);
  if (command.a != split_fixed && command.a != split_random) return outcome(Result::red_packet_split_invalid);
  // Checked before the packet's account is opened, so a packet that cannot be funded leaves nothing.
  if (chain_.available(account_id(AccountKind::wallet, command.party)) < command.amount) {
    return outcome(Result::insufficient_wallet);
  }
  RedPacketRecord packet{};
  packet.id = ++record_sequence_;
  if (Result r = chain_.ensure_account(AccountKind::packet, packet.id, ledger::account_debits_must_not_exceed_credits);
      r != Result::ok) {
    --record_sequence_;
    return outcome(r);
  }
  chain_.leg(account_id(AccountKind::wallet, command.party), account_id(AccountKind::packet, packet.id),
      command.amount, TransferCode::red_packet_fund, packet.id);
  const Result funded = chain_.commit();
  CAP_ASSERT(funded == Result::ok);
  packet.sender = command.party;
  packet.created_at = chain_.now();
  packet.expires_at = chain_.now() + red_packet_lifetime_s * ns_per_s;
  packet.seed = command.seed;
  packet.total = command.amount;
  packet.remaining = command.amount;
  packet.count = static_cast<std::uint32_t>(count);
  packet.split = static_cast<std::uint32_t>(command.a);
  packets_.put(packet.id, packet);
  deadlines_.push({packet.expires_at, packet.id, false});
  return outcome(Result::ok, static_cast<std::int64_t>(packet.id));
}

Outcome Payments::claim_red_packet(const Command& command) noexcept {
  const RedPacketRecord* found = packets_.find(command.target);
  if (found == nullptr) return outcome(Result::red_packet_not_found);
  if (found->expired != 0) return outcome(Result::red_packet_expired);
  if (claims_.find({found->id, command.party}) != nullptr) return outcome(Result::red_packet_already_claimed);
  if (found->claimed == found->count) return outcome(Result::red_packet_empty);
  if (users_.find(command.party) == nullptr) return outcome(Result::user_not_found);
  RedPacketRecord packet = *found;
  const std::int64_t share = red_packet_share(packet);
  chain_.leg(account_id(AccountKind::packet, packet.id), account_id(AccountKind::red_packet, command.party),
      share, TransferCode::red_packet_claim, packet.id);
  if (Result r = chain_.commit(); r != Result::ok) return outcome(r);
  packet.remaining -= share;
  ++packet.claimed;
  CAP_ASSERT(packet.remaining >= 0 && (packet.claimed < packet.count || packet.remaining == 0));
  packets_.put(packet.id, packet);
  claims_.put({packet.id, command.party}, {packet.id, command.party, static_cast<std::uint64_t>(share)});
  return outcome(Result::ok, share);
}

void Payments::expire_red_packet(RedPacketRecord& packet) noexcept {
  if (packet.remaining > 0) {
    chain_.leg(account_id(AccountKind::packet, packet.id), account_id(AccountKind::wallet, packet.sender),
        packet.remaining, TransferCode::red_packet_return, packet.id);
    const Result returned = chain_.commit();
    CAP_ASSERT(returned == Result::ok);
  }
  packet.remaining = 0;
  packet.expired = 1;
  packets_.put(packet.id, packet);
}

}  // namespace capillary::payments
