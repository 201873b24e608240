#pragma once
// The bank channels' configuration (config/banks.json; format in docs/channels.md): for each
// channel, how the simulator behaves as that bank and the flow-control limits of each API; the
// breaker policy shared by all; and, per card bank code, the channels to try in order.
//
// Loading is an edge: a malformed or inconsistent file throws std::runtime_error naming what is
// wrong, before anything starts.

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "channels/circuit_breaker.h"
#include "channels/connector.h"
#include "channels/flow_control.h"

namespace capillary::channels {

// How the bank simulator plays this channel's bank. A real adapter ignores it.
struct SimulationProfile {
  std::uint32_t capacity_tps = 1000;  // calls a second the bank takes; the rest get 503
  std::chrono::microseconds latency_median{30'000};
  std::chrono::microseconds latency_p99{200'000};
  std::uint32_t error_ppm = 0;    // share of calls answered with an error (500)
  std::uint32_t decline_ppm = 0;  // share of calls declined
};

struct ChannelConfig {
  ChannelId id = 0;  // 1..channel_id_max
  std::string name;
  SimulationProfile simulation;
  std::array<ApiLimits, bank_api_count> limits{};  // indexed by BankApi
};

struct RouteConfig {
  std::string bank_code;
  std::vector<ChannelId> channels;  // primary first, then fallbacks; 1..route_channels_max
};

struct BanksConfig {
  std::uint64_t seed = 1;
  BreakerPolicy breaker;
  std::vector<ChannelConfig> channels;
  std::vector<RouteConfig> routes;

  const ChannelConfig* find(ChannelId id) const;
};

BanksConfig parse_banks_config(std::string_view json);
BanksConfig load_banks_config(const std::filesystem::path& path);

}  // namespace capillary::channels
