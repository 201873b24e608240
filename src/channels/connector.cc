#include "channels/connector.h"


namespace capillary::channels {

std::string_view name(BankApi api) {
  switch (api) {
    case BankApi::debit_card:
      return "debit_card";
    case BankApi::credit_card:
      return "credit_card";
  }
  return "unknown";
}

std::string_view name(BankOutcome outcome) {
  switch (outcome) {
    case BankOutcome::approved:
      return "approved";
    case BankOutcome::declined:
      return "declined";
    case BankOutcome::failed:
      return "failed";
  }
  return "unknown";
}

std::string_view name(FailureKind failure) {
  switch (failure) {
    case FailureKind::none:
      return "none";
    case FailureKind::timeout:
      return "timeout";
    case FailureKind::error:
      return "error";
    case FailureKind::overloaded:
      return "overloaded";
    case FailureKind::connection:
      return "connection";
    case FailureKind::busy:
      return "busy";
    case FailureKind::unknown_reference:
      return "unknown_reference";
  }
  return "unknown";
}

void call(Connector& connector, BankApi api, const BankRequest& request, BankCallback callback) {
  if (api == BankApi::debit_card) return connector.debit_card(request, std::move(callback));
  connector.credit_card(request, std::move(callback));
}

BankResponse call_blocking(Connector& connector, BankApi api, const BankRequest& request) {
  return wait_for<BankResponse>([&](BankCallback done) { call(connector, api, request, std::move(done)); });
}

BankResponse query_blocking(Connector& connector, ChannelId channel_id, const std::string& reference) {
  return wait_for<BankResponse>([&](BankCallback done) { connector.query(channel_id, reference, std::move(done)); });
}

}  // namespace capillary::channels
