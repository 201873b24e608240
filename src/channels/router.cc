#include "channels/router.h"

#include <algorithm>

#include "channels/limits.h"
#include "core/assert.h"

namespace capillary::channels {
namespace {

std::size_t flow_index(ChannelId channel_id, BankApi api) {
  return std::size_t{channel_id} * bank_api_count + static_cast<std::size_t>(api);
}

}  // namespace

Router::Router(const BanksConfig& config, std::uint64_t now_ns)
    : flows_((channel_id_max + 1) * bank_api_count) {
  for (const ChannelConfig& channel : config.channels) {
    CAP_ASSERT(channel.id >= 1 && channel.id <= channel_id_max);
    for (const BankApi api : {BankApi::debit_card, BankApi::credit_card}) {
      flows_[flow_index(channel.id, api)] = std::make_unique<ApiFlow>(
          channel.id, api, channel.limits[static_cast<std::size_t>(api)], config.breaker, now_ns);
    }
  }
  for (const RouteConfig& route : config.routes) {
    CAP_ASSERT(!route.channels.empty() && route.channels.size() <= route_channels_max);
    for (const ChannelId id : route.channels) CAP_ASSERT(flow(id, BankApi::debit_card) != nullptr);
    routes_.emplace(route.bank_code, route.channels);
  }
}

ApiFlow* Router::flow(ChannelId channel_id, BankApi api) {
  if (channel_id > channel_id_max) return nullptr;
  return flows_[flow_index(channel_id, api)].get();
}

std::span<const ChannelId> Router::channels(std::string_view bank_code) const {
  const auto found = routes_.find(absl::string_view(bank_code.data(), bank_code.size()));
  if (found == routes_.end()) return {};
  return found->second;
}

Routed Router::route(std::string_view bank_code, BankApi api, std::uint64_t now_ns) {
  Routed routed;
  const auto found = routes_.find(absl::string_view(bank_code.data(), bank_code.size()));
  if (found == routes_.end()) {
    routed.admission.rejection = Rejection::no_route;
    routed.admission.retry_after_s = retry_after_s_max;
    return routed;
  }
  std::uint32_t shortest_retry_s = retry_after_s_max;
  for (const ChannelId channel_id : found->second) {
    ApiFlow* candidate = flow(channel_id, api);
    const Admission admission = candidate->admit(now_ns);
    if (admission.admitted()) {
      routed.channel_id = channel_id;
      routed.flow = candidate;
      routed.admission = admission;
      return routed;
    }
    if (routed.admission.rejection == Rejection::none) routed.admission = admission;
    shortest_retry_s = std::min(shortest_retry_s, admission.retry_after_s);
  }
  CAP_ASSERT(!routed.admission.admitted());
  routed.admission.retry_after_s = shortest_retry_s;
  return routed;
}

std::vector<ApiFlowSnapshot> Router::snapshot(std::uint64_t now_ns) {
  std::vector<ApiFlowSnapshot> snapshots;
  for (const auto& flow : flows_) {
    if (flow) snapshots.push_back(flow->snapshot(now_ns));
  }
  return snapshots;
}

}  // namespace capillary::channels
