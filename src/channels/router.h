#pragma once
// Picks the channel for a card by its bank code: the route's primary channel if its flow control
// admits the call, else the first fallback that does, in the configured order. A channel is
// skipped only for a flow-control rejection (open breaker, rate or concurrency limit); once a call
// is sent, its answer stands (see connector.h on why a timeout is retried on the same channel).
//
// The router owns the flow control of every channel API. O(route_channels_max) admissions per
// call, each O(1); thread-safe.

#include <absl/container/flat_hash_map.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "channels/config.h"
#include "channels/flow_control.h"

namespace capillary::channels {

struct Routed {
  ChannelId channel_id = 0;  // 0 when every channel refused
  ApiFlow* flow = nullptr;   // complete() it with the answer when admitted
  // When every channel refused: the primary's reason and the shortest retry hint of all.
  Admission admission;
};

class Router {
 public:
  Router(const BanksConfig& config, std::uint64_t now_ns);
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  Routed route(std::string_view bank_code, BankApi api, std::uint64_t now_ns);
  // The channels a card of `bank_code` may be routed to, primary first; empty without a route.
  std::span<const ChannelId> channels(std::string_view bank_code) const;

  // nullptr for a channel that is not configured.
  ApiFlow* flow(ChannelId channel_id, BankApi api);
  std::vector<ApiFlowSnapshot> snapshot(std::uint64_t now_ns);

 private:
  // Indexed by channel id * bank_api_count + api; null where no channel is configured.
  std::vector<std::unique_ptr<ApiFlow>> flows_;
  absl::flat_hash_map<std::string, std::vector<ChannelId>> routes_;
};

}  // namespace capillary::channels
