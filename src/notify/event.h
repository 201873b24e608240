#pragma once
// What the payments engine hands the notifier: one event per order state change, after the batch
// that made the change is durable. Sequences number an order's events from 1 in the order they
// happened; the notifier delivers them to the merchant in that order.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace capillary::notify {

// Longest state name ("paid", "released", "partially_refunded", ...): a record's fixed field.
inline constexpr std::size_t state_bytes_max = 32;

struct Event {
  std::uint64_t merchant_id = 0;  // >= 1
  std::uint64_t order_id = 0;
  std::uint64_t sequence = 0;      // >= 1, per order
  std::string state;               // 1..state_bytes_max of [a-z0-9_]
  std::int64_t amount = 0;         // minor units (fen)
  std::uint64_t timestamp_ns = 0;  // when the engine committed the change
};

// One per event given to Notifier::enqueue, in order of precedence.
enum class EnqueueResult : std::uint8_t {
  enqueued,
  invalid_event,    // merchant 0, sequence 0, or a state outside the format above
  no_callback_url,  // the merchant has registered no callback URL: nothing to deliver to
  duplicate,        // this (merchant, order, sequence) is already pending or was acknowledged
  out_of_order,     // a later event of the same order is already pending
};

std::string_view name(EnqueueResult result);

// The JSON body POSTed to the merchant. (order_id, sequence) identifies the event: a merchant
// deduplicates on it, since delivery is at least once.
std::string callback_body(const Event& event);

bool valid_state(std::string_view state);

}  // namespace capillary::notify
