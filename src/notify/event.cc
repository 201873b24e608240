#include "notify/event.h"

#include <fmt/format.h>

#include "core/assert.h"

namespace capillary::notify {

std::string_view name(EnqueueResult result) {
  switch (result) {
    case EnqueueResult::enqueued:
      return "enqueued";
    case EnqueueResult::invalid_event:
      return "invalid_event";
    case EnqueueResult::no_callback_url:
      return "no_callback_url";
    case EnqueueResult::duplicate:
      return "duplicate";
    case EnqueueResult::out_of_order:
      return "out_of_order";
  }
  CAP_ASSERT(false);
}

bool valid_state(std::string_view state) {
  if (state.empty() || state.size() > state_bytes_max) return false;
  for (const char c : state) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// The state is [a-z0-9_] (valid_state), so nothing needs escaping.
std::string callback_body(const Event& event) {
  CAP_ASSERT(valid_state(event.state));
  return fmt::format(
      R"({{"merchant_id":{},"order_id":{},"sequence":{},"state":"{}","amount":{},"timestamp_ns":{}}})",
      event.merchant_id, event.order_id, event.sequence, event.state, event.amount,
      event.timestamp_ns);
}

}  // namespace capillary::notify
