#include "channels/gateway.h"

#include <future>
#include <memory>

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
  }
  return "unknown";
}

Gateway::Gateway(const BanksConfig& config, Connector& connector, const Clock& clock)
    : connector_(connector), clock_(clock), router_(config, clock.now_ns()) {}

void Gateway::charge(const Card& card, std::int64_t amount_fen, std::string reference,
                     GatewayCallback callback) {
  call(BankApi::debit_card, card, amount_fen, std::move(reference), std::move(callback));
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

}  // namespace

void Gateway::call(BankApi api, const Card& card, std::int64_t amount_fen, std::string reference,
                   GatewayCallback callback) {
  CAP_ASSERT(amount_fen > 0);
  CAP_ASSERT(!reference.empty() && reference.size() <= reference_bytes_max);
  const Routed routed = router_.route(card.bank_code, api, clock_.now_ns());
  if (!routed.admission.admitted()) return callback(rejected(routed.admission));
  send(api, routed,
       BankRequest{routed.channel_id, card.token, card.bank_code, amount_fen, std::move(reference)},
       std::move(callback));
}

void Gateway::refund(ChannelId channel_id, const Card& card, std::int64_t amount_fen,
                     std::string reference, GatewayCallback callback) {
  CAP_ASSERT(amount_fen > 0);
  CAP_ASSERT(!reference.empty() && reference.size() <= reference_bytes_max);
  Routed routed;
  routed.flow = router_.flow(channel_id, BankApi::credit_card);
  if (routed.flow == nullptr) {
    return callback(rejected({Rejection::no_route, retry_after_s_max, 0}));
  }
  routed.admission = routed.flow->admit(clock_.now_ns());
  if (!routed.admission.admitted()) return callback(rejected(routed.admission));
  routed.channel_id = channel_id;
  BankRequest request{channel_id, card.token, card.bank_code, amount_fen, std::move(reference)};
  request.refund = true;
  send(BankApi::credit_card, routed, std::move(request), std::move(callback));
}

void Gateway::send(BankApi api, const Routed& routed, BankRequest request,
                   GatewayCallback callback) {
  channels::call(connector_, api, request,
                 [this, routed, callback = std::move(callback)](BankResponse response) {
                   routed.flow->complete(routed.admission, clock_.now_ns(), response);
                   GatewayResult result;
                   result.outcome = static_cast<GatewayOutcome>(response.outcome);
                   result.channel_id = routed.channel_id;
                   result.bank_reference = std::move(response.bank_reference);
                   result.decline_reason = std::move(response.decline_reason);
                   result.failure = response.failure;
                   result.latency = response.latency;
                   callback(std::move(result));
                 });
}

static_assert(static_cast<int>(GatewayOutcome::approved) ==
                  static_cast<int>(BankOutcome::approved) &&
              static_cast<int>(GatewayOutcome::declined) ==
                  static_cast<int>(BankOutcome::declined) &&
              static_cast<int>(GatewayOutcome::failed) == static_cast<int>(BankOutcome::failed));

GatewayResult Gateway::call_blocking(BankApi api, const Card& card, std::int64_t amount_fen,
                                     std::string reference) {
  auto promise = std::make_shared<std::promise<GatewayResult>>();
  auto answer = promise->get_future();
  call(api, card, amount_fen, std::move(reference),
       [promise](GatewayResult result) { promise->set_value(std::move(result)); });
  return answer.get();
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
