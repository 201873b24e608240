#pragma once
// What a bank adapter implements: charge a card (debit) or pay out to one (credit). The bank
// simulator's HTTP connector implements it (channels/http_connector.h); so would a real bank.
//
// Contract:
// - A call answers exactly once through its callback, possibly on another thread, possibly before
//   the call returns. The callback must not block.
// - `reference` is our idempotency key at the bank: the same reference sent again is the same
//   operation and gets the same answer and bank reference, never a second movement of money.
//   So a call that failed with a timeout (the bank may or may not have acted) is retried with the
//   same reference on the same channel, never on another one.
// - `declined` is the bank's business answer (insufficient funds, card blocked); `failed` means
//   no answer was obtained (timeout, connection error, the bank's own error or overload), and
//   only `failed(timeout)` leaves the bank's side unknown.

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>

namespace capillary::channels {

using ChannelId = std::uint32_t;

// The bank APIs flow control is kept for, one set of limits each.
enum class BankApi : std::uint8_t { debit_card, credit_card };
inline constexpr std::size_t bank_api_count = 2;
std::string_view name(BankApi api);

// Card token, bank code and reference are identifiers: printable ASCII without quotes,
// backslashes, commas or spaces (channels/wire.h), of at most the lengths in channels/limits.h.
struct BankRequest {
  ChannelId channel_id = 0;
  std::string card_token;
  std::string bank_code;
  std::int64_t amount_fen = 0;  // > 0
  std::string reference;        // our reference: the idempotency key at the bank
  // credit_card only: the credit returns a card payment (a refund) rather than paying out. The
  // bank lists it as a refund in its statement.
  bool refund = false;
};

enum class BankOutcome : std::uint8_t { approved, declined, failed };
std::string_view name(BankOutcome outcome);

// Why a call failed; `none` unless the outcome is `failed`.
enum class FailureKind : std::uint8_t {
  none,
  timeout,     // no answer in time: the bank may have acted; retry with the same reference
  error,       // the bank answered with an error or the answer was unreadable: nothing was done
  overloaded,  // the bank refused for capacity (503): nothing was done
  connection,  // the bank could not be reached: nothing was sent
  busy,        // the connector's in-flight bound was reached: nothing was sent
  // Answer to a query: the bank holds no operation with this reference, so it did nothing.
  unknown_reference,
};
std::string_view name(FailureKind failure);

struct BankResponse {
  BankOutcome outcome = BankOutcome::failed;
  FailureKind failure = FailureKind::none;
  std::string decline_reason;  // set when declined
  std::string bank_reference;  // set when approved (and when declined, if the bank gave one)
  std::chrono::microseconds latency{0};
};

using BankCallback = std::function<void(BankResponse)>;

class Connector {
 public:
  virtual ~Connector() = default;
  // Charges the card: a wallet top-up or a card-funded payment.
  virtual void debit_card(const BankRequest& request, BankCallback callback) = 0;
  // Pays out to the card: a withdrawal, or a refund of a card payment (request.refund).
  virtual void credit_card(const BankRequest& request, BankCallback callback) = 0;
  // What the bank did with `reference` on `channel_id`, asked once a call timed out: that
  // operation's answer (approved or declined, as the call would have been answered),
  // failed(unknown_reference) when the bank holds no such operation, or another failure when
  // this question went unanswered too.
  virtual void query(ChannelId channel_id, const std::string& reference, BankCallback callback) = 0;
};

// Dispatches to debit_card or credit_card.
void call(Connector& connector, BankApi api, const BankRequest& request, BankCallback callback);

// Calls `send` with a callback and waits for the answer it is given. Never from a thread that
// answers it (a connector's).
template <typename Answer, typename Send>
Answer wait_for(Send send) {
  auto promise = std::make_shared<std::promise<Answer>>();
  auto answer = promise->get_future();
  send([promise](Answer given) { promise->set_value(std::move(given)); });
  return answer.get();
}

// Wait for the answer. Never call them from a thread the connector answers on.
BankResponse call_blocking(Connector& connector, BankApi api, const BankRequest& request);
BankResponse query_blocking(Connector& connector, ChannelId channel_id, const std::string& reference);

}  // namespace capillary::channels
