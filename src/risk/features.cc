#include "risk/features.h"

#include <algorithm>

#include "core/assert.h"
#include "risk/geo.h"

namespace capillary::risk {
namespace {

constexpr std::uint64_t ns_per_minute = 60 * ns_per_s;
constexpr std::uint64_t seconds_per_hour = 3600;

bool is_money_event(EventKind kind) { return kind != EventKind::login; }

bool has_payee(const Event& event) {
  return (event.kind == EventKind::transfer || event.kind == EventKind::withdrawal) &&
         event.payee_id != 0 && event.payee_id != event.user_id;
}

void put_velocity(const Velocity& velocity, Feature count_1m, Feature sum_1m, FeatureVector& out) {
  // The feature table lists each key's counts (1m, 1h, 24h) and then its sums in the same order.
  const auto count = static_cast<std::size_t>(count_1m);
  const auto sum = static_cast<std::size_t>(sum_1m);
  for (std::size_t w = 0; w < window_count; ++w) {
    const WindowTotals& totals = velocity.totals(static_cast<Window>(w));
    out[static_cast<Feature>(count + w)] = totals.count;
    out[static_cast<Feature>(sum + w)] = totals.sum_fen;
  }
}

std::int64_t minutes_since(std::uint64_t then_ns, std::uint64_t now_ns) {
  return static_cast<std::int64_t>((now_ns - then_ns) / ns_per_minute);
}

}  // namespace

std::optional<Feature> feature_by_name(std::string_view name) {
  for (std::size_t i = 0; i < feature_count; ++i) {
    if (feature_table[i].name == name) return static_cast<Feature>(i);
  }
  return std::nullopt;
}

template <std::size_t N>
const FeatureStore::Known* FeatureStore::RecentSet<N>::find(std::uint64_t id) const {
  for (std::uint32_t i = 0; i < size; ++i) {
    if (items[i].id == id) return &items[i];
  }
  return nullptr;
}

// Refreshes `id`, or adds it in place of the least recently used entry when the set is full.
template <std::size_t N>
void FeatureStore::RecentSet<N>::touch(std::uint64_t id, std::uint64_t now_ns) {
  for (std::uint32_t i = 0; i < size; ++i) {
    if (items[i].id == id) {
      items[i].last_ns = now_ns;
      return;
    }
  }
  if (size < N) {
    items[size++] = Known{id, now_ns, now_ns};
    return;
  }
  auto oldest = std::min_element(items.begin(), items.end(), [](const Known& a, const Known& b) {
    return a.last_ns < b.last_ns;
  });
  *oldest = Known{id, now_ns, now_ns};
}

void FeatureStore::link_family(std::uint64_t user, std::uint64_t group) {
  users_[user].family = group;
}

void FeatureStore::flag_account(std::uint64_t user, bool flagged) {
  users_[user].flagged = flagged;
}

void FeatureStore::link_counterparties(std::uint64_t a, std::uint64_t b) {
  CAP_ASSERT(a != b);
  User& first = users_[a];
  User& second = users_[b];
  first.counterparties.touch(b, 0);
  second.counterparties.touch(a, 0);
}

void FeatureStore::set_merchant_risk(std::uint64_t merchant, std::int64_t level) {
  CAP_ASSERT(level >= 0 && level <= merchant_risk_max);
  merchants_[merchant].risk = level;
}

FeatureStore::Observation FeatureStore::observe(const Event& event, std::uint64_t now_ns,
                                                FeatureVector& out) {
  CAP_ASSERT(event.user_id != 0);
  out = FeatureVector{};
  out[Feature::is_login] = event.kind == EventKind::login;
  out[Feature::is_payment] = event.kind == EventKind::payment;
  out[Feature::is_transfer] = event.kind == EventKind::transfer;
  out[Feature::is_withdrawal] = event.kind == EventKind::withdrawal;
  out[Feature::channel_web] = event.channel == Channel::web;
  out[Feature::family_pay] = event.actor() != event.user_id;
  out[Feature::amount] = event.amount_fen;

  User& account = users_[event.user_id];
  User& actor = event.actor() == event.user_id ? account : users_[event.actor()];
  observe_account(event, now_ns, account, out);
  observe_actor(event, now_ns, actor, out);
  observe_payee(event, account, out);
  observe_travel(event, now_ns, account, out);

  Device& device = devices_[event.device_id];
  device.velocity.add(now_ns, event.amount_fen);
  put_velocity(device.velocity, Feature::device_count_1m, Feature::device_sum_1m, out);
  device.users.touch(event.user_id, now_ns);
  std::int64_t device_users = 0;
  for (std::uint32_t i = 0; i < device.users.size; ++i) {
    device_users += device.users.items[i].last_ns + window_1h_ns > now_ns;
  }
  out[Feature::device_users_1h] = device_users;

  Velocity& ip = ips_[event.ip];
  ip.add(now_ns, event.amount_fen);
  put_velocity(ip, Feature::ip_count_1m, Feature::ip_sum_1m, out);

  if (event.kind == EventKind::payment) {
    Merchant& merchant = merchants_[event.merchant_id];
    merchant.velocity.add(now_ns, event.amount_fen);
    put_velocity(merchant.velocity, Feature::merchant_count_1m, Feature::merchant_sum_1m, out);
    out[Feature::merchant_risk] = merchant.risk;
  }
  if (now_ns >= last_sweep_ns_ + sweep_interval_ns) sweep(now_ns);
  return {&account, &actor};
}

// Velocity and the amount history of the charged account: an amount is judged against what came
// before it.
void FeatureStore::observe_account(const Event& event, std::uint64_t now_ns, User& account,
                                   FeatureVector& out) {
  account.velocity.add(now_ns, event.amount_fen);
  put_velocity(account.velocity, Feature::user_count_1m, Feature::user_sum_1m, out);
  out[Feature::user_flagged] = account.flagged;
  out[Feature::user_history_count] = account.amount_count;
  if (account.amount_count > 0) {
    const std::int64_t mean = account.amount_sum_fen / account.amount_count;  // floor: both >= 0
    out[Feature::user_amount_mean] = mean;
    out[Feature::user_amount_max] = account.amount_max_fen;
    out[Feature::amount_over_max] = event.amount_fen > account.amount_max_fen;
    if (mean > 0) {
      const __int128 pct = static_cast<__int128>(event.amount_fen) * 100 / mean;
      out[Feature::amount_to_mean_pct] =
          static_cast<std::int64_t>(std::min<__int128>(pct, amount_to_mean_pct_max));
    }
  }
}

// Device and city novelty belong to the person acting: a family member paying from a parent's
// account does so from their own phone and city.
void FeatureStore::observe_actor(const Event& event, std::uint64_t now_ns, const User& actor,
                                 FeatureVector& out) {
  if (const Known* device = actor.devices.find(event.device_id)) {
    out[Feature::device_age_min] = minutes_since(device->first_ns, now_ns);
  } else {
    out[Feature::device_new] = 1;
  }
  if (const Known* city = actor.cities.find(event.city_id)) {
    out[Feature::city_age_min] = minutes_since(city->first_ns, now_ns);
  } else {
    out[Feature::city_new] = 1;
  }
}

// Payee novelty and the one-hop counterparty check for transfers and withdrawals.
void FeatureStore::observe_payee(const Event& event, const User& account, FeatureVector& out) {
  if (!has_payee(event)) return;
  out[Feature::payee_new] = account.payees.find(event.payee_id) == nullptr;
  if (event.kind != EventKind::transfer) return;
  const auto found = users_.find(event.payee_id);
  if (found == users_.end()) return;
  const User& payee = found->second;
  out[Feature::payee_flagged] = payee.flagged;
  bool near_flagged = false;
  for (std::uint32_t i = 0; i < payee.counterparties.size && !near_flagged; ++i) {
    const std::uint64_t id = payee.counterparties.items[i].id;
    if (id == event.user_id) continue;
    const auto other = users_.find(id);
    near_flagged = other != users_.end() && other->second.flagged;
  }
  out[Feature::payee_near_flagged] = near_flagged;
}

// The seeds' case: one account active in Beijing and in Hangzhou at once. It is abnormal unless
// the two activities come from two different members of one family group.
void FeatureStore::observe_travel(const Event& event, std::uint64_t now_ns, const User& account,
                                  FeatureVector& out) {
  if (!account.active) return;
  const std::uint32_t km =
      distance_km(account.last_lat_e4, account.last_lon_e4, event.lat_e4, event.lon_e4);
  const std::uint64_t seconds = std::max<std::uint64_t>(1, (now_ns - account.last_ns) / ns_per_s);
  const std::uint64_t speed = km * seconds_per_hour / seconds;
  out[Feature::travel_km] = km;
  out[Feature::travel_speed_kmh] = static_cast<std::int64_t>(speed);
  if (km > travel_km_min && speed > travel_speed_kmh_max) {
    const User& previous = users_.at(account.last_actor);
    const User& current = users_.at(event.actor());
    const bool family = account.last_actor != event.actor() && current.family != 0 &&
                        previous.family == current.family;
    out[family ? Feature::family_travel : Feature::impossible_travel] = 1;
  }
}

void FeatureStore::learn(const Event& event, std::uint64_t now_ns) {
  User& account = users_[event.user_id];
  learn(event, now_ns, {&account, &users_[event.actor()]});
}

void FeatureStore::learn(const Event& event, std::uint64_t now_ns, const Observation& observation) {
  User& account = *observation.account;
  User& actor = *observation.actor;
  if (is_money_event(event.kind) && event.amount_fen > 0) {
    account.amount_count += 1;
    account.amount_sum_fen += event.amount_fen;
    account.amount_max_fen = std::max(account.amount_max_fen, event.amount_fen);
    CAP_ASSERT(account.amount_sum_fen >= account.amount_max_fen);
  }
  actor.devices.touch(event.device_id, now_ns);
  actor.cities.touch(event.city_id, now_ns);
  if (has_payee(event)) {
    account.payees.touch(event.payee_id, now_ns);
    if (event.kind == EventKind::transfer) {
      users_[event.payee_id].counterparties.touch(event.user_id, now_ns);
      account.counterparties.touch(event.payee_id, now_ns);
    }
  }
  account.active = true;
  account.last_ns = now_ns;
  account.last_lat_e4 = event.lat_e4;
  account.last_lon_e4 = event.lon_e4;
  account.last_actor = event.actor();
}

// Devices and IPs with nothing in their 24 h window carry no signal any more; dropping them bounds
// memory by the keys of the last day. Accounts and merchants keep links, flags and habits.
void FeatureStore::sweep(std::uint64_t now_ns) {
  last_sweep_ns_ = now_ns;
  if (devices_.size() + ips_.size() < tracked_keys_sweep_min) return;
  absl::erase_if(devices_, [now_ns](const auto& entry) {
    return entry.second.velocity.last_ns() + window_24h_ns <= now_ns;
  });
  absl::erase_if(ips_, [now_ns](const auto& entry) {
    return entry.second.last_ns() + window_24h_ns <= now_ns;
  });
}

}  // namespace capillary::risk
