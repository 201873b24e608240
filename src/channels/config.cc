#include "channels/config.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "channels/limits.h"

namespace capillary::channels {
namespace {

namespace dom = simdjson::dom;

[[noreturn]] void invalid(std::string_view what) {
  throw std::runtime_error(fmt::format("banks config: {}", what));
}

std::uint64_t unsigned_field(dom::object object, std::string_view key, std::uint64_t max,
                             std::string_view where) {
  std::uint64_t value = 0;
  if (object[key].get(value) != simdjson::SUCCESS) {
    invalid(fmt::format("{}: `{}` must be a non-negative integer", where, key));
  }
  if (value > max) invalid(fmt::format("{}: `{}` is {}, over {}", where, key, value, max));
  return value;
}

std::uint32_t u32_field(dom::object object, std::string_view key, std::uint64_t min,
                        std::uint64_t max, std::string_view where) {
  const std::uint64_t value = unsigned_field(object, key, max, where);
  if (value < min) invalid(fmt::format("{}: `{}` is {}, under {}", where, key, value, min));
  return static_cast<std::uint32_t>(value);
}

dom::object object_field(dom::object object, std::string_view key, std::string_view where) {
  dom::object value;
  if (object[key].get(value) != simdjson::SUCCESS) {
    invalid(fmt::format("{}: `{}` must be an object", where, key));
  }
  return value;
}

std::string string_field(dom::object object, std::string_view key, std::size_t bytes_max,
                         std::string_view where) {
  std::string_view value;
  if (object[key].get(value) != simdjson::SUCCESS || value.empty() || value.size() > bytes_max) {
    invalid(fmt::format("{}: `{}` must be a string of 1..{} bytes", where, key, bytes_max));
  }
  return std::string(value);
}

// Latency in the file is in milliseconds: how bank SLAs are written.
constexpr std::uint64_t latency_ms_max = 60'000;

SimulationProfile parse_simulation(dom::object object, std::string_view where) {
  SimulationProfile profile;
  profile.capacity_tps = u32_field(object, "capacity_tps", 1, rate_per_s_max, where);
  profile.latency_median =
      std::chrono::milliseconds(u32_field(object, "latency_ms_median", 1, latency_ms_max, where));
  profile.latency_p99 =
      std::chrono::milliseconds(u32_field(object, "latency_ms_p99", 1, latency_ms_max, where));
  if (profile.latency_p99 < profile.latency_median) {
    invalid(fmt::format("{}: latency_ms_p99 is below latency_ms_median", where));
  }
  profile.error_ppm = u32_field(object, "error_ppm", 0, 1'000'000, where);
  profile.decline_ppm = u32_field(object, "decline_ppm", 0, 1'000'000, where);
  if (profile.error_ppm + profile.decline_ppm > 1'000'000) {
    invalid(fmt::format("{}: error_ppm + decline_ppm is over 1000000", where));
  }
  return profile;
}

ApiLimits parse_limits(dom::object object, std::string_view where) {
  ApiLimits limits;
  limits.rate_per_s = u32_field(object, "rate_per_s", 1, rate_per_s_max, where);
  limits.burst = u32_field(object, "burst", 1, burst_max, where);
  limits.concurrency_max = u32_field(object, "concurrency_max", 1, concurrency_max_max, where);
  return limits;
}

BreakerPolicy parse_breaker(dom::object object) {
  constexpr std::string_view where = "breaker";
  BreakerPolicy policy;
  policy.window_s = u32_field(object, "window_s", 1, breaker_window_s_max, where);
  policy.calls_min = u32_field(object, "calls_min", 1, 1'000'000, where);
  policy.error_rate_ppm_max = u32_field(object, "error_rate_ppm_max", 1, 1'000'000, where);
  policy.latency_p99_max =
      std::chrono::milliseconds(u32_field(object, "latency_ms_p99_max", 1, latency_ms_max, where));
  policy.open_duration =
      std::chrono::seconds(u32_field(object, "open_s", 1, retry_after_s_max, where));
  policy.half_open_probes = u32_field(object, "half_open_probes", 1, 1000, where);
  return policy;
}

ChannelConfig parse_channel(dom::object object) {
  ChannelConfig channel;
  channel.id = u32_field(object, "id", 1, channel_id_max, "channel");
  const std::string where = fmt::format("channel {}", channel.id);
  channel.name = string_field(object, "name", reference_bytes_max, where);
  channel.simulation = parse_simulation(object_field(object, "simulation", where), where);
  for (const BankApi api : {BankApi::debit_card, BankApi::credit_card}) {
    channel.limits[static_cast<std::size_t>(api)] = parse_limits(
        object_field(object, name(api), where), fmt::format("{} {}", where, name(api)));
  }
  return channel;
}

RouteConfig parse_route(dom::object object, const BanksConfig& config) {
  RouteConfig route;
  route.bank_code = string_field(object, "bank_code", bank_code_bytes_max, "route");
  const std::string where = fmt::format("route {}", route.bank_code);
  dom::array channels;
  if (object["channels"].get(channels) != simdjson::SUCCESS) {
    invalid(fmt::format("{}: `channels` must be an array of channel ids", where));
  }
  for (dom::element element : channels) {
    std::uint64_t id = 0;
    if (element.get(id) != simdjson::SUCCESS ||
        config.find(static_cast<ChannelId>(id)) == nullptr || id > channel_id_max) {
      invalid(fmt::format("{}: lists a channel that is not configured", where));
    }
    if (std::find(route.channels.begin(), route.channels.end(), id) != route.channels.end()) {
      invalid(fmt::format("{}: lists channel {} twice", where, id));
    }
    route.channels.push_back(static_cast<ChannelId>(id));
  }
  if (route.channels.empty() || route.channels.size() > route_channels_max) {
    invalid(fmt::format("{}: needs 1..{} channels", where, route_channels_max));
  }
  return route;
}

}  // namespace

const ChannelConfig* BanksConfig::find(ChannelId id) const {
  for (const ChannelConfig& channel : channels) {
    if (channel.id == id) return &channel;
  }
  return nullptr;
}

BanksConfig parse_banks_config(std::string_view json) {
  dom::parser parser;
  dom::object root;
  if (const auto error = parser.parse(json.data(), json.size()).get(root); error) {
    invalid(fmt::format("not a JSON object: {}", simdjson::error_message(error)));
  }
  BanksConfig config;
  config.seed = unsigned_field(root, "seed", UINT64_MAX, "root");
  config.breaker = parse_breaker(object_field(root, "breaker", "root"));
  dom::array channels, routes;
  if (root["channels"].get(channels) != simdjson::SUCCESS) invalid("`channels` must be an array");
  if (root["routes"].get(routes) != simdjson::SUCCESS) invalid("`routes` must be an array");
  std::set<ChannelId> ids;
  for (dom::element element : channels) {
    dom::object object;
    if (element.get(object) != simdjson::SUCCESS) invalid("every channel must be an object");
    config.channels.push_back(parse_channel(object));
    if (!ids.insert(config.channels.back().id).second) {
      invalid(fmt::format("channel {} is configured twice", config.channels.back().id));
    }
  }
  std::set<std::string> codes;
  for (dom::element element : routes) {
    dom::object object;
    if (element.get(object) != simdjson::SUCCESS) invalid("every route must be an object");
    config.routes.push_back(parse_route(object, config));
    if (!codes.insert(config.routes.back().bank_code).second) {
      invalid(fmt::format("bank code {} is routed twice", config.routes.back().bank_code));
    }
  }
  return config;
}

BanksConfig load_banks_config(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) invalid(fmt::format("cannot read {}", path.string()));
  std::ostringstream text;
  text << file.rdbuf();
  return parse_banks_config(text.str());
}

}  // namespace capillary::channels
