#pragma once
// The named features rules and models read, and the store that maintains them event by event.
//
// Every feature is a 64-bit integer of one of three types: bool (0 or 1), int (a count, minutes,
// kilometres, a percentage), money (fen). The rule language checks types on load, so a rule cannot
// compare an amount with a count by mistake.

#include <absl/container/flat_hash_map.h>
#include <absl/container/node_hash_map.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "risk/event.h"
#include "risk/limits.h"
#include "risk/velocity.h"

namespace capillary::risk {

enum class FeatureType : std::uint8_t { boolean, integer, money };

// name, type, meaning. Velocity counts and sums include the event being decided; history,
// novelty and geography compare it with what came BEFORE it.
#define CAPILLARY_RISK_FEATURES(X)                                                           \
  X(is_login, boolean, "the event is a login")                                               \
  X(is_payment, boolean, "the event is a payment to a merchant")                             \
  X(is_transfer, boolean, "the event is a user-to-user transfer")                            \
  X(is_withdrawal, boolean, "the event is a withdrawal to a bank card")                      \
  X(channel_web, boolean, "the event came through the web channel")                          \
  X(family_pay, boolean, "a linked family member acts on the account")                       \
  X(amount, money, "the event's amount")                                                     \
  X(user_count_1m, integer, "events of the account in the last minute")                      \
  X(user_count_1h, integer, "events of the account in the last hour")                        \
  X(user_count_24h, integer, "events of the account in the last 24 hours")                   \
  X(user_sum_1m, money, "amount of the account's events in the last minute")                 \
  X(user_sum_1h, money, "amount of the account's events in the last hour")                   \
  X(user_sum_24h, money, "amount of the account's events in the last 24 hours")              \
  X(device_count_1m, integer, "events from the device in the last minute")                   \
  X(device_count_1h, integer, "events from the device in the last hour")                     \
  X(device_count_24h, integer, "events from the device in the last 24 hours")                \
  X(device_sum_1m, money, "amount from the device in the last minute")                       \
  X(device_sum_1h, money, "amount from the device in the last hour")                         \
  X(device_sum_24h, money, "amount from the device in the last 24 hours")                    \
  X(ip_count_1m, integer, "events from the IP in the last minute")                           \
  X(ip_count_1h, integer, "events from the IP in the last hour")                             \
  X(ip_count_24h, integer, "events from the IP in the last 24 hours")                        \
  X(ip_sum_1m, money, "amount from the IP in the last minute")                               \
  X(ip_sum_1h, money, "amount from the IP in the last hour")                                 \
  X(ip_sum_24h, money, "amount from the IP in the last 24 hours")                            \
  X(merchant_count_1m, integer, "payments to the merchant in the last minute")               \
  X(merchant_count_1h, integer, "payments to the merchant in the last hour")                 \
  X(merchant_count_24h, integer, "payments to the merchant in the last 24 hours")            \
  X(merchant_sum_1m, money, "amount paid to the merchant in the last minute")                \
  X(merchant_sum_1h, money, "amount paid to the merchant in the last hour")                  \
  X(merchant_sum_24h, money, "amount paid to the merchant in the last 24 hours")             \
  X(user_history_count, integer, "earlier money events of the account")                      \
  X(user_amount_mean, money, "mean amount of those (floor)")                                 \
  X(user_amount_max, money, "largest amount of those")                                       \
  X(amount_to_mean_pct, integer, "amount as a percentage of the mean (0 without history)")   \
  X(amount_over_max, boolean, "amount above every earlier amount (false without history)")   \
  X(device_new, boolean, "the actor never used this device (among the last 8)")              \
  X(device_age_min, integer, "minutes since the actor first used this device (0 if new)")    \
  X(device_users_1h, integer, "distinct accounts on the device in the last hour")            \
  X(city_new, boolean, "the actor was never in this city (among the last 8)")                \
  X(city_age_min, integer, "minutes since the actor was first seen in this city (0 if new)") \
  X(payee_new, boolean, "the account never paid this payee or card (among the last 16)")     \
  X(travel_km, integer, "distance from the account's previous activity")                     \
  X(travel_speed_kmh, integer, "speed needed to cover it since then")                        \
  X(impossible_travel, boolean, "too far too fast, and not explained by a family link")      \
  X(family_travel, boolean, "too far too fast, explained by linked family accounts")         \
  X(user_flagged, boolean, "the account is flagged")                                         \
  X(payee_flagged, boolean, "the payee is flagged")                                          \
  X(payee_near_flagged, boolean, "the payee dealt with a flagged account (one hop)")         \
  X(merchant_risk, integer, "the merchant's risk level, 0 (none) to 3 (high)")               \
  X(risk_score, integer, "the models' combined score, 0 to 1000")

enum class Feature : std::uint8_t {
#define CAPILLARY_RISK_FEATURE_ENUM(name, type, meaning) name,
  CAPILLARY_RISK_FEATURES(CAPILLARY_RISK_FEATURE_ENUM)
#undef CAPILLARY_RISK_FEATURE_ENUM
};

struct FeatureInfo {
  std::string_view name;
  FeatureType type;
  std::string_view meaning;
};

inline constexpr FeatureInfo feature_table[] = {
#define CAPILLARY_RISK_FEATURE_INFO(name, type, meaning) {#name, FeatureType::type, meaning},
    CAPILLARY_RISK_FEATURES(CAPILLARY_RISK_FEATURE_INFO)
#undef CAPILLARY_RISK_FEATURE_INFO
};
inline constexpr std::size_t feature_count = std::size(feature_table);

std::optional<Feature> feature_by_name(std::string_view name);
inline const FeatureInfo& info(Feature f) { return feature_table[static_cast<std::size_t>(f)]; }

class FeatureVector {
 public:
  std::int64_t operator[](Feature f) const { return values_[static_cast<std::size_t>(f)]; }
  std::int64_t& operator[](Feature f) { return values_[static_cast<std::size_t>(f)]; }
  std::int64_t at(std::size_t index) const { return values_[index]; }

 private:
  std::array<std::int64_t, feature_count> values_{};
};

inline constexpr std::int64_t merchant_risk_max = 3;
// amount_to_mean_pct saturates here, so a huge amount on a tiny mean cannot overflow.
inline constexpr std::int64_t amount_to_mean_pct_max = 1'000'000;

// Per-key state behind the features. Not thread-safe: one owner (risk::Engine serialises it).
// Memory: per account ~0.5 KiB plus its velocity ring; devices and IPs idle for 24 h are swept.
class FeatureStore {
 public:
  FeatureStore() = default;
  FeatureStore(const FeatureStore&) = delete;
  FeatureStore& operator=(const FeatureStore&) = delete;

  // Accounts in one family group may act on each other's accounts from different places.
  // group 0 removes the link.
  void link_family(std::uint64_t user, std::uint64_t group);
  void flag_account(std::uint64_t user, bool flagged);
  // Records that two accounts dealt with each other (history from before this store existed).
  void link_counterparties(std::uint64_t a, std::uint64_t b);
  void set_merchant_risk(std::uint64_t merchant, std::int64_t level);

  // Computes every feature but risk_score for `event` at `now_ns` (>= any earlier now_ns) and
  // counts it in the velocity windows: every attempt is activity, whatever its decision.
  // Returns a handle for learn() on the same event.
  struct Observation;
  Observation observe(const Event& event, std::uint64_t now_ns, FeatureVector& out);
  // Adds an event to its users' habits (amount history, devices, cities, payees, counterparties,
  // last position). Called for events that went through: an attacker's denied or failed attempts
  // must not teach the profile that their device, city or payee is familiar.
  void learn(const Event& event, std::uint64_t now_ns);
  // The same, right after observe() of that event, without looking its accounts up again.
  void learn(const Event& event, std::uint64_t now_ns, const Observation& observation);

 private:
  struct Known {
    std::uint64_t id = 0;
    std::uint64_t first_ns = 0;
    std::uint64_t last_ns = 0;
  };
  template <std::size_t N>
  struct RecentSet {
    std::array<Known, N> items{};
    std::uint32_t size = 0;
    const Known* find(std::uint64_t id) const;
    void touch(std::uint64_t id, std::uint64_t now_ns);
  };
  struct User {
    Velocity velocity;
    std::uint32_t amount_count = 0;
    std::int64_t amount_sum_fen = 0;
    std::int64_t amount_max_fen = 0;
    RecentSet<known_devices_max> devices;
    RecentSet<known_cities_max> cities;
    RecentSet<known_payees_max> payees;
    RecentSet<counterparties_max> counterparties;
    // The account's previous activity, for impossible travel.
    bool active = false;
    std::uint64_t last_ns = 0;
    std::int32_t last_lat_e4 = 0, last_lon_e4 = 0;
    std::uint64_t last_actor = 0;
    std::uint64_t family = 0;
    bool flagged = false;
  };

 public:
  // The accounts observe() found; valid until the next call on the store (accounts are never
  // erased and live in a node map, so no insertion moves them).
  struct Observation {
    User* account;
    User* actor;
  };

 private:
  struct Device {
    Velocity velocity;
    RecentSet<device_users_max> users;
  };
  struct Merchant {
    Velocity velocity;
    std::int64_t risk = 0;
  };

  void observe_account(const Event& event, std::uint64_t now_ns, User& account, FeatureVector& out);
  void observe_actor(const Event& event, std::uint64_t now_ns, const User& actor,
                     FeatureVector& out);
  void observe_payee(const Event& event, const User& account, FeatureVector& out);
  void observe_travel(const Event& event, std::uint64_t now_ns, const User& account,
                      FeatureVector& out);
  void sweep(std::uint64_t now_ns);

  // Node-based: observing an event holds references to two or three accounts at once.
  absl::node_hash_map<std::uint64_t, User> users_;
  absl::flat_hash_map<std::uint64_t, Device> devices_;
  absl::flat_hash_map<std::uint64_t, Velocity> ips_;
  absl::flat_hash_map<std::uint64_t, Merchant> merchants_;
  std::uint64_t last_sweep_ns_ = 0;
};

}  // namespace capillary::risk
