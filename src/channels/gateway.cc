#include "channels/gateway.h"

#include "channels/limits.h"
#include "core/assert.h"

namespace capillary::channels {

std::string_view name(GatewayOutcome outcome) {
  switch (outcome) {
    case GatewayOutcome::approved:
      return "approved";
    case GatewayOutcome::declined:
      return "declined";
    case GatewayOutcome::failed:
      return "failed";
    case GatewayOutcome::rejected:
      return "rejected";
    case GatewayOutcome::withdrawn:
      return "withdrawn";
  }
  return "unknown";
}

Gateway::Gateway(const BanksConfig& config, Connector& connector, const Clock& clock)
    : connector_(connector), clock_(clock), router_(config, clock.now_ns()) {}

void Gateway::charge(const Card& card, std::int64_t amount_fen, std::string reference,
                     GatewayCallback callback, BeforeSend before_send) {
  call(BankApi::debit_card, card, amount_fen, std::move(reference), std::move(callback), std::move(before_send));
}

void Gateway::payout(const Card& card, std::int64_t amount_fen, std::string reference,
                     GatewayCallback callback) {
  call(BankApi::credit_card, card, amount_fen, std::move(reference), std::move(callback));
}

namespace {

GatewayResult rejected(const Admission& admission) {
  GatewayResult result;
  result.outcome = GatewayOutcome::rejected;
  result.rejection = admission.rejection;
  result.retry_after_s = admission.retry_after_s;
  CAP_ASSERT(result.retry_after_s >= retry_after_s_min);
  return result;
}

static_assert(static_cast<int>(GatewayOutcome::approved) ==
                  static_cast<int>(BankOutcome::approved) &&
              static_cast<int>(GatewayOutcome::declined) ==
                  static_cast<int>(BankOutcome::declined) &&
              static_cast<int>(GatewayOutcome::failed) == static_cast<int>(BankOutcome::failed));

GatewayResult result_of(ChannelId channel_id, BankResponse response) {
  GatewayResult result;
  result.outcome = static_cast<GatewayOutcome>(response.outcome);
  result.channel_id = channel_id;
  result.bank_reference = std::move(response.bank_reference);
  result.decline_reason = std::move(response.decline_reason);
  result.failure = response.failure;
  result.latency = response.latency;
  return result;
}

}  // namespace

void Gateway::call(BankApi api, const Card& card, std::int64_t amount_fen, std::string reference,
                   GatewayCallback callback, BeforeSend before_send) {
  CAP_ASSERT(amount_fen > 0);
  CAP_ASSERT(!reference.empty() && reference.size() <= reference_bytes_max);
  if (const ChannelId channel_id = pinned(reference); channel_id != 0) {
    return send_on(channel_id, api, BankRequest{channel_id, card.token, card.bank_code, amount_fen, std::move(reference)},
                   std::move(callback), before_send);
  }
  const Routed routed = router_.route(card.bank_code, api, clock_.now_ns());
  if (!routed.admission.admitted()) return callback(rejected(routed.admission));
  send(api, routed,
       BankRequest{routed.channel_id, card.token, card.bank_code, amount_fen, std::move(reference)},
       std::move(callback), before_send);
}

void Gateway::refund(ChannelId channel_id, const Card& card, std::int64_t amount_fen,
                     std::string reference, GatewayCallback callback) {
  CAP_ASSERT(amount_fen > 0);
  CAP_ASSERT(!reference.empty() && reference.size() <= reference_bytes_max);
  BankRequest request{channel_id, card.token, card.bank_code, amount_fen, std::move(reference)};
  request.refund = true;
  send_on(channel_id, BankApi::credit_card, std::move(request), std::move(callback));
}

void Gateway::call_on(ChannelId channel_id, BankApi api, const Card& card, std::int64_t amount_fen,
                      std::string reference, GatewayCallback callback) {
  CAP_ASSERT(amount_fen > 0);
  CAP_ASSERT(!reference.empty() && reference.size() <= reference_bytes_max);
  send_on(channel_id, api, BankRequest{channel_id, card.token, card.bank_code, amount_fen, std::move(reference)},
          std::move(callback));
}

void Gateway::send_on(ChannelId channel_id, BankApi api, BankRequest request, GatewayCallback callback,
                      const BeforeSend& before_send) {
  Routed routed;
  routed.flow = router_.flow(channel_id, api);
  if (routed.flow == nullptr) {
    return callback(rejected({Rejection::no_route, retry_after_s_max, 0}));
  }
  routed.admission = routed.flow->admit(clock_.now_ns());
  if (!routed.admission.admitted()) return callback(rejected(routed.admission));
  routed.channel_id = channel_id;
  send(api, routed, std::move(request), std::move(callback), before_send);
}

void Gateway::send(BankApi api, const Routed& routed, BankRequest request,
                   GatewayCallback callback, const BeforeSend& before_send) {
  if (before_send && !before_send(routed.channel_id)) {
    routed.flow->withdraw(routed.admission);
    GatewayResult withdrawn;
    withdrawn.outcome = GatewayOutcome::withdrawn;
    withdrawn.channel_id = routed.channel_id;
    return callback(std::move(withdrawn));
  }
  std::string reference = request.reference;
  channels::call(connector_, api, request,
                 [this, routed, reference = std::move(reference),
                  callback = std::move(callback)](BankResponse response) {
                   routed.flow->complete(routed.admission, clock_.now_ns(), response);
                   pin_or_release(reference, routed.channel_id, response);
                   callback(result_of(routed.channel_id, std::move(response)));
                 });
}

void Gateway::query(ChannelId channel_id, std::string reference, GatewayCallback callback) {
  connector_.query(channel_id, reference,
                   [this, channel_id, reference, callback = std::move(callback)](BankResponse response) {
                     pin_or_release(reference, channel_id, response);
                     callback(result_of(channel_id, std::move(response)));
                   });
}

ChannelId Gateway::pinned(const std::string& reference) {
  std::lock_guard lock(pins_mutex_);
  const auto found = pins_.find(reference);
  return found == pins_.end() ? 0 : found->second;
}

// Only the bank's word on the operation releases a pin: an answer, or that it holds none. Any
// other failure leaves it as it was, since an earlier attempt may still have acted. Bounded: past
// pinned_references_max the oldest pins go, and their retries route afresh, as after a restart.
void Gateway::pin_or_release(const std::string& reference, ChannelId channel_id, const BankResponse& response) {
  const bool settled =
      response.outcome != BankOutcome::failed || response.failure == FailureKind::unknown_reference;
  std::lock_guard lock(pins_mutex_);
  if (settled) {
    pins_.erase(reference);
    return;
  }
  if (response.failure == FailureKind::timeout) pin_locked(reference, channel_id);
}

void Gateway::pin(const std::string& reference, ChannelId channel_id) {
  std::lock_guard lock(pins_mutex_);
  pin_locked(reference, channel_id);
}

void Gateway::pin_locked(const std::string& reference, ChannelId channel_id) {
  if (!pins_.try_emplace(reference, channel_id).second) return;
  pin_order_.push_back(reference);
  while (pin_order_.size() > pinned_references_max) {
    pins_.erase(pin_order_.front());
    pin_order_.pop_front();
  }
}

GatewayResult Gateway::call_blocking(BankApi api, const Card& card, std::int64_t amount_fen,
                                     std::string reference) {
  return wait_for<GatewayResult>([&](GatewayCallback done) { call(api, card, amount_fen, std::move(reference), std::move(done)); });
}

GatewayResult Gateway::query_blocking(ChannelId channel_id, std::string reference) {
  return wait_for<GatewayResult>([&](GatewayCallback done) { query(channel_id, std::move(reference), std::move(done)); });
}

GatewayResult Gateway::charge_blocking(const Card& card, std::int64_t amount_fen,
                                       std::string reference) {
  return call_blocking(BankApi::debit_card, card, amount_fen, std::move(reference));
}

GatewayResult Gateway::payout_blocking(const Card& card, std::int64_t amount_fen,
                                       std::string reference) {
  return call_blocking(BankApi::credit_card, card, amount_fen, std::move(reference));
}

std::vector<ApiFlowSnapshot> Gateway::snapshot() { return router_.snapshot(clock_.now_ns()); }

std::string Gateway::render_metrics() { return render_prometheus(snapshot()); }

}  // namespace capillary::channels
