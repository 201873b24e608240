#include "risk/generator.h"

#include <algorithm>
#include <array>
#include <queue>

#include "core/assert.h"
#include "core/clock.h"
#include "risk/geo.h"

namespace capillary::risk {
namespace {

// 2026-01-01T00:00:00Z: the stream's first instant.
constexpr std::uint64_t stream_start_ns = 1'767'225'600ull * ns_per_s;
constexpr std::uint64_t ns_per_minute = 60 * ns_per_s;
constexpr std::uint64_t ns_per_day = 86'400 * ns_per_s;

// Id ranges, far apart so no two kinds of id ever meet.
constexpr std::uint64_t merchant_id_base = 10'000'000'000;
constexpr std::uint64_t device_id_base = 20'000'000'000;
constexpr std::uint64_t ip_id_base = 30'000'000'000;
constexpr std::uint64_t card_id_base = 40'000'000'000;
constexpr std::uint64_t carrier_ips_per_city = 64;  // mobile carriers' shared addresses
constexpr std::uint64_t kiosks_per_city = 8;        // shared terminals (hotels, cafés, shops)
constexpr std::uint64_t history_days = 30;

// The population, per user.
constexpr std::uint64_t users_per_merchant = 10;
constexpr std::uint64_t users_per_flagged_account = 500;
constexpr std::uint64_t users_per_mule = 200;
constexpr std::uint32_t usual_merchants = 5;
constexpr std::uint32_t devices_per_user_max = 2;
constexpr std::uint32_t card_testing_rings = 4;
constexpr std::uint32_t ring_devices = 3, ring_ips = 2;

// Habits and noise, in percent (or per mille) of a user's events.
constexpr std::uint32_t family_user_pct = 6;
constexpr std::uint32_t family_pay_pct = 30;  // a family member's payment on the family account
constexpr std::uint32_t trip_start_pct = 2;
constexpr std::uint32_t new_device_per_mille = 7;
constexpr std::uint32_t carrier_ip_pct = 35;
constexpr std::uint32_t kiosk_per_mille = 10;  // events from a shared terminal, many accounts each
constexpr std::uint32_t web_pct = 10;
constexpr std::uint32_t new_payee_pct = 25;
constexpr std::uint32_t new_card_pct = 5;
constexpr std::uint32_t big_amount_pct = 3;
constexpr std::uint32_t linked_to_flagged_per_mille =
    5;  // normal users who dealt with a flagged one
constexpr std::uint32_t linked_mule_pct = 80;
constexpr std::uint32_t trip_speed_kmh = 500;  // door to door, so a trip never looks impossible
// Family members paying from the family account minutes after its holder: the seeds' case.
constexpr std::uint32_t family_overlap_per_10k = 30;

struct Habit {
  std::uint32_t home_city = 0;
  std::uint32_t city = 0;
  std::uint32_t trip_events_left = 0;
  std::array<std::uint64_t, devices_per_user_max> devices{};
  std::uint32_t device_count = 0;
  std::uint64_t home_ip = 0;
  std::int64_t mean_fen = 0;
  std::array<std::uint64_t, usual_merchants> merchants{};
  std::vector<std::uint64_t> payees;
  std::vector<std::uint64_t> cards;
  std::uint64_t last_ns = 0;
  std::uint32_t family = 0;  // 1-based index into families; 0 for none
};

struct Ring {
  std::array<std::uint64_t, ring_devices> devices;
  std::array<std::uint64_t, ring_ips> ips;
  std::uint32_t city;
};

struct Scheduled {
  std::uint64_t timestamp_ns;
  std::uint64_t order;  // ties keep scheduling order, so the stream is deterministic
  LabelledEvent event;
  bool operator>(const Scheduled& other) const {
    return timestamp_ns != other.timestamp_ns ? timestamp_ns > other.timestamp_ns
                                              : order > other.order;
  }
};

}  // namespace

std::string_view fraud_kind_name(FraudKind kind) {
  switch (kind) {
    case FraudKind::none:
      return "none";
    case FraudKind::account_takeover:
      return "account_takeover";
    case FraudKind::card_testing:
      return "card_testing";
    case FraudKind::scam_transfer:
      return "scam_transfer";
    case FraudKind::impossible_travel:
      return "impossible_travel";
  }
  return "?";
}

struct Generator::State {
  explicit State(const GeneratorOptions& options);

  std::uint64_t uniform(std::uint64_t low, std::uint64_t high) {  // inclusive
    return std::uniform_int_distribution<std::uint64_t>(low, high)(random);
  }
  bool percent(std::uint32_t pct) { return uniform(0, 99) < pct; }
  bool per_mille(std::uint32_t pm) { return uniform(0, 999) < pm; }
  std::uint64_t random_user() { return uniform(1, users); }
  std::uint64_t random_merchant() {
    // Popular merchants get most payments: the square of a uniform draw leans to low indexes.
    const std::uint64_t r = uniform(0, merchants - 1);
    return merchant_id_base + r * r / merchants;
  }
  std::uint32_t random_city() {
    return static_cast<std::uint32_t>(uniform(0, cities().size() - 1));
  }
  std::uint32_t distant_city(std::uint32_t from, std::uint32_t km_min);
  std::uint64_t fresh_device() { return device_id_base + next_device++; }
  std::uint64_t fresh_ip() { return ip_id_base + next_ip++; }
  std::uint64_t fresh_card() { return card_id_base + next_card++; }
  std::uint64_t carrier_ip(std::uint32_t city) {
    return ip_id_base - 1 - city * carrier_ips_per_city - uniform(0, carrier_ips_per_city - 1);
  }
  std::int64_t scaled(std::int64_t mean_fen, std::uint64_t pct_low, std::uint64_t pct_high) {
    return std::max<std::int64_t>(
        1, mean_fen * static_cast<std::int64_t>(uniform(pct_low, pct_high)) / 100);
  }
  void place(Event& event, std::uint32_t city) {
    const City& c = cities()[city];
    event.city_id = city;
    event.lat_e4 = c.lat_e4 + static_cast<std::int32_t>(uniform(0, 1000)) - 500;
    event.lon_e4 = c.lon_e4 + static_cast<std::int32_t>(uniform(0, 1000)) - 500;
  }
  void schedule(std::uint64_t timestamp_ns, LabelledEvent event) {
    event.event.timestamp_ns = timestamp_ns;
    pending.push({timestamp_ns, next_order++, event});
  }

  void make_habit(std::uint64_t user);
  void make_world();
  void make_history(std::uint64_t user);
  LabelledEvent normal_event(std::uint64_t user, std::uint64_t now_ns);
  void travel(Habit& habit, std::uint64_t now_ns);
  Event own_event(std::uint64_t user, const Habit& habit);
  void start_case(std::uint64_t now_ns);
  void account_takeover(std::uint64_t now_ns, std::uint32_t case_id);
  void card_testing(std::uint64_t now_ns, std::uint32_t case_id);
  void scam_transfer(std::uint64_t now_ns, std::uint32_t case_id);
  void impossible_travel(std::uint64_t now_ns, std::uint32_t case_id);
  void family_overlap(std::uint64_t now_ns);

  GeneratorOptions options;
  std::mt19937_64 random;
  std::uint64_t users, merchants, flagged_accounts, mules;
  std::vector<Habit> habits;  // index user - 1
  std::vector<std::vector<std::uint64_t>> families;
  std::vector<std::uint64_t> linked_mules, unlinked_mules;
  std::array<Ring, card_testing_rings> rings;
  World world;
  std::exponential_distribution<double> gap_ns;
  std::uint64_t now_ns = stream_start_ns;
  std::priority_queue<Scheduled, std::vector<Scheduled>, std::greater<>> pending;
  std::uint64_t next_order = 0, next_event_id = 1, next_device = 0, next_ip = 0, next_card = 0;
  std::uint32_t next_case = 1;
};

Generator::State::State(const GeneratorOptions& o)
    : options(o),
      random(o.seed),
      users(std::max<std::uint64_t>(1000, o.events / o.events_per_user)),
      merchants(std::max<std::uint64_t>(50, users / users_per_merchant)),
      flagged_accounts(std::max<std::uint64_t>(20, users / users_per_flagged_account)),
      mules(std::max<std::uint64_t>(50, users / users_per_mule)),
      gap_ns(static_cast<double>(o.events) / static_cast<double>(o.span_days * ns_per_day)) {
  CAP_ASSERT(o.events > 0 && o.events_per_user > 0 && o.span_days > 0);
  make_world();
}

std::uint32_t Generator::State::distant_city(std::uint32_t from, std::uint32_t km_min) {
  const City& a = cities()[from];
  for (;;) {
    const std::uint32_t to = random_city();
    const City& b = cities()[to];
    if (distance_km(a.lat_e4, a.lon_e4, b.lat_e4, b.lon_e4) >= km_min) return to;
  }
}

void Generator::State::make_habit(std::uint64_t user) {
  Habit& h = habits[user - 1];
  h.home_city = h.city = random_city();
  h.device_count = 1 + percent(30);
  for (std::uint32_t i = 0; i < h.device_count; ++i) h.devices[i] = fresh_device();
  h.home_ip = fresh_ip();
  // Typical amounts from 5 to ~640 CNY, spread evenly on a log scale.
  h.mean_fen = static_cast<std::int64_t>(500) << uniform(0, 7);
  h.mean_fen = scaled(h.mean_fen, 70, 140);
  for (auto& merchant : h.merchants) merchant = random_merchant();
  for (std::uint64_t i = uniform(1, 4); i > 0; --i) h.payees.push_back(random_user());
  for (std::uint64_t i = uniform(1, 2); i > 0; --i) h.cards.push_back(fresh_card());
}

void Generator::State::make_world() {
  habits.resize(users);
  for (std::uint64_t user = 1; user <= users; ++user) make_habit(user);
  // Families: runs of 2 or 3 consecutive users, half of them spread over two cities.
  for (std::uint64_t user = 1; user + 2 <= users; ++user) {
    if (!percent(family_user_pct)) continue;
    const std::uint64_t size = uniform(2, 3);
    std::vector<std::uint64_t> members;
    const std::uint32_t other_city = random_city();
    for (std::uint64_t i = 0; i < size; ++i, ++user) {
      members.push_back(user);
      habits[user - 1].family = static_cast<std::uint32_t>(families.size() + 1);
      if (i > 0 && percent(50)) habits[user - 1].home_city = habits[user - 1].city = other_city;
      world.families.push_back({user, families.size() + 1});
    }
    families.push_back(std::move(members));
  }
  // Flagged accounts, mules (most linked to flagged accounts) and a few ordinary users who once
  // dealt with a flagged account.
  const std::uint64_t flagged_base = users + 1, mule_base = flagged_base + flagged_accounts;
  for (std::uint64_t i = 0; i < flagged_accounts; ++i) world.flagged.push_back(flagged_base + i);
  for (std::uint64_t i = 0; i < mules; ++i) {
    const std::uint64_t mule = mule_base + i;
    if (!percent(linked_mule_pct)) {
      unlinked_mules.push_back(mule);
      continue;
    }
    linked_mules.push_back(mule);
    for (std::uint64_t k = uniform(1, 2); k > 0; --k) {
      world.counterparties.push_back({mule, flagged_base + uniform(0, flagged_accounts - 1)});
    }
  }
  for (std::uint64_t user = 1; user <= users; ++user) {
    if (per_mille(linked_to_flagged_per_mille)) {
      world.counterparties.push_back({user, flagged_base + uniform(0, flagged_accounts - 1)});
    }
  }
  for (std::uint64_t m = 0; m < merchants; ++m) {
    if (percent(5))
      world.merchant_risk.push_back({merchant_id_base + m, std::int64_t(uniform(1, 3))});
  }
  for (std::uint64_t user = 1; user <= users; ++user) make_history(user);
  std::sort(world.history.begin(), world.history.end(),
            [](const Event& a, const Event& b) { return a.timestamp_ns < b.timestamp_ns; });
  for (Ring& ring : rings) {
    for (auto& device : ring.devices) device = fresh_device();
    for (auto& ip : ring.ips) ip = fresh_ip();
    ring.city = random_city();
  }
}

void Generator::State::make_history(std::uint64_t user) {
  const Habit& h = habits[user - 1];
  auto earlier = [&](EventKind kind) {
    Event e = own_event(user, h);
    e.kind = kind;
    e.timestamp_ns = stream_start_ns - uniform(1, history_days * ns_per_day);
    return e;
  };
  for (std::uint32_t i = 0; i < h.device_count; ++i) {
    Event login = earlier(EventKind::login);
    login.device_id = h.devices[i];
    world.history.push_back(login);
  }
  for (std::uint64_t merchant : h.merchants) {
    Event payment = earlier(EventKind::payment);
    payment.merchant_id = merchant;
    payment.amount_fen = scaled(h.mean_fen, 25, 250);
    world.history.push_back(payment);
  }
  for (std::uint64_t payee : h.payees) {
    Event transfer = earlier(EventKind::transfer);
    transfer.payee_id = payee;
    transfer.amount_fen = scaled(h.mean_fen, 50, 400);
    world.history.push_back(transfer);
  }
  for (std::uint64_t card : h.cards) {
    Event withdrawal = earlier(EventKind::withdrawal);
    withdrawal.payee_id = card;
    withdrawal.amount_fen = scaled(h.mean_fen, 100, 800);
    world.history.push_back(withdrawal);
  }
}

// Trips start and end only when enough time has passed to get there, so a person alone never
// travels impossibly fast.
void Generator::State::travel(Habit& h, std::uint64_t now) {
  auto reachable = [&](std::uint32_t to) {
    const City& a = cities()[h.city];
    const City& b = cities()[to];
    const std::uint64_t km = distance_km(a.lat_e4, a.lon_e4, b.lat_e4, b.lon_e4);
    return h.last_ns == 0 ||
           now - h.last_ns >= km * 3600 * ns_per_s / trip_speed_kmh + ns_per_minute;
  };
  if (h.trip_events_left > 0) {
    if (--h.trip_events_left == 0) {
      if (reachable(h.home_city)) {
        h.city = h.home_city;
      } else {
        h.trip_events_left = 1;
      }
    }
  } else if (percent(trip_start_pct)) {
    const std::uint32_t to = random_city();
    if (to != h.city && reachable(to)) {
      h.city = to;
      h.trip_events_left = static_cast<std::uint32_t>(uniform(2, 8));
    }
  }
}

Event Generator::State::own_event(std::uint64_t user, const Habit& h) {
  Event e;
  e.user_id = user;
  e.device_id = h.devices[uniform(0, h.device_count - 1)];
  e.ip = percent(carrier_ip_pct) ? carrier_ip(h.city) : h.home_ip;
  e.channel = percent(web_pct) ? Channel::web : Channel::app;
  place(e, h.city);
  return e;
}

LabelledEvent Generator::State::normal_event(std::uint64_t user, std::uint64_t now) {
  Habit& h = habits[user - 1];
  travel(h, now);
  if (per_mille(new_device_per_mille)) {
    h.devices[h.device_count < devices_per_user_max ? h.device_count++
                                                    : uniform(0, h.device_count - 1)] =
        fresh_device();
  }
  h.last_ns = now;
  LabelledEvent out;
  Event& e = out.event;
  e = own_event(user, h);
  if (per_mille(kiosk_per_mille)) {
    const std::uint64_t kiosk = h.city * kiosks_per_city + uniform(0, kiosks_per_city - 1);
    e.device_id = device_id_base - 1 - kiosk;
    e.ip = ip_id_base - 1 - cities().size() * carrier_ips_per_city - kiosk;
  }
  const std::uint64_t kind = uniform(0, 99);
  const bool big = percent(big_amount_pct);
  if (kind < 14) {
    e.kind = EventKind::login;
  } else if (kind < 76) {
    e.kind = EventKind::payment;
    if (e.channel == Channel::app && percent(20)) e.channel = Channel::offline_qr;
    e.merchant_id = percent(80) ? h.merchants[uniform(0, usual_merchants - 1)] : random_merchant();
    e.amount_fen = big ? scaled(h.mean_fen, 300, 1500) : scaled(h.mean_fen, 25, 250);
    if (h.family != 0 && percent(family_pay_pct)) {
      // Family pay: the first member's account, paid by this member from where they are.
      const std::uint64_t account = families[h.family - 1].front();
      if (account != user) {
        e.actor_user_id = user;
        e.user_id = account;
      }
    }
  } else if (kind < 94) {
    e.kind = EventKind::transfer;
    if (percent(new_payee_pct) || h.payees.empty()) {
      std::uint64_t payee;
      do payee = random_user();
      while (payee == user);
      if (h.payees.size() < 8) h.payees.push_back(payee);
      e.payee_id = payee;
    } else {
      e.payee_id = h.payees[uniform(0, h.payees.size() - 1)];
    }
    e.amount_fen = big ? scaled(h.mean_fen, 500, 3000) : scaled(h.mean_fen, 50, 400);
  } else {
    e.kind = EventKind::withdrawal;
    if (percent(new_card_pct)) h.cards.push_back(fresh_card());
    e.payee_id = h.cards[uniform(0, h.cards.size() - 1)];
    e.amount_fen = big ? scaled(h.mean_fen, 1000, 5000) : scaled(h.mean_fen, 100, 800);
  }
  e.timestamp_ns = now;
  return out;
}

void Generator::State::start_case(std::uint64_t now) {
  const std::uint32_t case_id = next_case++;
  const std::uint64_t kind = uniform(0, 99);
  if (kind < 30) {
    account_takeover(now, case_id);
  } else if (kind < 50) {
    card_testing(now, case_id);
  } else if (kind < 80) {
    scam_transfer(now, case_id);
  } else {
    impossible_travel(now, case_id);
  }
}

// A stolen password: a login from the attacker's device, then payouts to new cards or mules.
void Generator::State::account_takeover(std::uint64_t now, std::uint32_t case_id) {
  const std::uint64_t victim = random_user();
  const Habit& h = habits[victim - 1];
  LabelledEvent base{{}, FraudKind::account_takeover, case_id};
  base.event.user_id = victim;
  base.event.device_id = fresh_device();
  base.event.ip = fresh_ip();
  base.event.channel = percent(30) ? Channel::web : Channel::app;
  place(base.event, percent(75) ? distant_city(h.city, 300) : h.city);
  LabelledEvent login = base;
  login.event.kind = EventKind::login;
  schedule(now + uniform(0, 60) * ns_per_s, login);
  std::uint64_t at = now + uniform(2, 10) * ns_per_minute;
  for (std::uint64_t payouts = uniform(1, 3); payouts > 0; --payouts) {
    LabelledEvent payout = base;
    if (percent(50)) {
      payout.event.kind = EventKind::withdrawal;
      payout.event.payee_id = fresh_card();
    } else {
      payout.event.kind = EventKind::transfer;
      payout.event.payee_id = percent(50) ? linked_mules[uniform(0, linked_mules.size() - 1)]
                                          : unlinked_mules[uniform(0, unlinked_mules.size() - 1)];
    }
    payout.event.amount_fen =
        percent(20) ? scaled(h.mean_fen, 80, 200)
                    : scaled(h.mean_fen, 300, 2000) + std::int64_t(uniform(0, 200'000));
    schedule(at, payout);
    at += uniform(1, 15) * ns_per_minute;
  }
}

// Stolen cards checked with tiny payments at many merchants from one ring's devices and IPs.
void Generator::State::card_testing(std::uint64_t now, std::uint32_t case_id) {
  const Ring& ring = rings[uniform(0, card_testing_rings - 1)];
  const bool one_account = percent(30);
  const std::uint64_t single = random_user();
  const std::uint64_t device = ring.devices[uniform(0, ring_devices - 1)];
  const std::uint64_t ip = ring.ips[uniform(0, ring_ips - 1)];
  std::uint64_t at = now;
  for (std::uint64_t n = uniform(8, 40); n > 0; --n) {
    LabelledEvent test{{}, FraudKind::card_testing, case_id};
    Event& e = test.event;
    e.kind = EventKind::payment;
    e.user_id = one_account ? single : random_user();
    e.device_id = device;
    e.ip = ip;
    e.channel = percent(70) ? Channel::web : Channel::api;
    place(e, ring.city);
    e.merchant_id = random_merchant();
    e.amount_fen = static_cast<std::int64_t>(uniform(1, 500));
    schedule(at, test);
    at += uniform(2, 20) * ns_per_s;
  }
}

// A victim talked into sending money: their own phone, home and habits, a new payee.
void Generator::State::scam_transfer(std::uint64_t now, std::uint32_t case_id) {
  const std::uint64_t victim = random_user();
  const Habit& h = habits[victim - 1];
  const std::uint64_t mule = percent(80) ? linked_mules[uniform(0, linked_mules.size() - 1)]
                                         : unlinked_mules[uniform(0, unlinked_mules.size() - 1)];
  std::uint64_t at = now;
  for (std::uint64_t n = uniform(1, 2); n > 0; --n) {
    LabelledEvent scam{own_event(victim, h), FraudKind::scam_transfer, case_id};
    scam.event.kind = EventKind::transfer;
    scam.event.payee_id = mule;
    scam.event.amount_fen = percent(20)
                                ? scaled(h.mean_fen, 100, 300)
                                : scaled(h.mean_fen, 300, 3000) + std::int64_t(uniform(0, 500'000));
    schedule(at, scam);
    at += uniform(1, 30) * ns_per_minute;
  }
}

// The holder is active, and minutes later someone else uses the account far away.
void Generator::State::impossible_travel(std::uint64_t now, std::uint32_t case_id) {
  const std::uint64_t victim = random_user();
  LabelledEvent own = normal_event(victim, now);
  if (own.event.actor_user_id != 0) return;  // the holder is paying on the family account
  schedule(now, own);
  const Habit& h = habits[victim - 1];
  LabelledEvent base{{}, FraudKind::impossible_travel, case_id};
  base.event.user_id = victim;
  base.event.device_id = percent(30) ? h.devices[0] : fresh_device();
  base.event.ip = fresh_ip();
  place(base.event, distant_city(h.city, 800));
  std::uint64_t at = now + uniform(1, 20) * ns_per_minute;
  LabelledEvent login = base;
  login.event.kind = EventKind::login;
  schedule(at, login);
  LabelledEvent payment = base;
  payment.event.kind = EventKind::payment;
  payment.event.merchant_id = random_merchant();
  payment.event.amount_fen = scaled(h.mean_fen, 50, 500);
  schedule(at + uniform(1, 10) * ns_per_minute, payment);
}

// A family account's holder pays, and minutes later another member pays from it elsewhere.
void Generator::State::family_overlap(std::uint64_t now) {
  if (families.empty()) return;
  const std::vector<std::uint64_t>& members = families[uniform(0, families.size() - 1)];
  LabelledEvent holder = normal_event(members.front(), now);
  holder.event.actor_user_id = 0;
  holder.event.user_id = members.front();
  schedule(now, holder);
  const std::uint64_t member = members[uniform(1, members.size() - 1)];
  LabelledEvent pay{own_event(member, habits[member - 1]), FraudKind::none, 0};
  pay.event.kind = EventKind::payment;
  pay.event.user_id = members.front();
  pay.event.actor_user_id = member;
  pay.event.merchant_id = random_merchant();
  pay.event.amount_fen = scaled(habits[member - 1].mean_fen, 25, 250);
  schedule(now + uniform(1, 10) * ns_per_minute, pay);
}

Generator::Generator(const GeneratorOptions& options) : state_(std::make_unique<State>(options)) {}
Generator::~Generator() = default;

const World& Generator::world() const { return state_->world; }

LabelledEvent Generator::next() {
  State& s = *state_;
  for (;;) {
    if (!s.pending.empty() && s.pending.top().timestamp_ns <= s.now_ns) {
      LabelledEvent out = s.pending.top().event;
      s.pending.pop();
      out.event.event_id = s.next_event_id++;
      return out;
    }
    const std::uint64_t now = s.now_ns;
    s.now_ns += 1 + static_cast<std::uint64_t>(s.gap_ns(s.random));
    if (s.uniform(0, 9'999) < s.options.fraud_cases_per_10k) {
      s.start_case(now);
      continue;
    }
    if (s.uniform(0, 9'999) < family_overlap_per_10k) {
      s.family_overlap(now);
      continue;
    }
    LabelledEvent out = s.normal_event(s.random_user(), now);
    out.event.event_id = s.next_event_id++;
    return out;
  }
}

}  // namespace capillary::risk
