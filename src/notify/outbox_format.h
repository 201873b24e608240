#pragma once
// The outbox's RocksDB database, `<data dir>/notify/`. Integers in keys are big-endian, so
// RocksDB's byte order is numeric order and an order's events sort by sequence.
//
//   'e' merchant u64  order u64  sequence u64   -> EventRecord       an undelivered event
//   'a' merchant u64  order u64                 -> u64 (native)      highest acknowledged sequence
//   'r' due_ns u64  merchant u64  order u64     -> (empty)           an order waiting to retry
//   'u' merchant u64                            -> URL bytes         the merchant's callback URL
//
// An event is deleted when acknowledged, in the same write batch that raises its order's 'a'
// mark, so a duplicate enqueue after delivery is recognised. After a failed attempt the order's
// first event records its attempts and due time, and an 'r' key indexes the order by due time, in
// one batch; that key is deleted when the order is taken back into memory. Only the first event of
// an order ever carries attempts.

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "notify/event.h"

namespace capillary::notify {

inline constexpr char event_tag = 'e', acknowledged_tag = 'a', retry_tag = 'r', url_tag = 'u';

struct EventRecord {
  std::int64_t amount;
  std::uint64_t timestamp_ns;
  std::uint64_t due_ns;    // 0 until an attempt fails; then when the next attempt may start
  std::uint32_t attempts;  // failed attempts so far
  std::uint32_t state_bytes;
  char state[state_bytes_max];
};
static_assert(sizeof(EventRecord) == 64 && std::has_unique_object_representations_v<EventRecord>);

// An order: its events' keys share this prefix after the tag.
struct OrderKey {
  std::uint64_t merchant_id = 0;
  std::uint64_t order_id = 0;
  auto operator<=>(const OrderKey&) const = default;  // key order: merchant, then order
  template <typename H>
  friend H AbslHashValue(H hash, const OrderKey& key) {
    return H::combine(std::move(hash), key.merchant_id, key.order_id);
  }
};

inline void put_u64(std::string* out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

inline std::uint64_t get_u64(const char* in) {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = value << 8 | static_cast<std::uint8_t>(in[i]);
  return value;
}

inline constexpr std::size_t event_key_bytes = 1 + 3 * 8;
inline constexpr std::size_t order_key_bytes = 1 + 2 * 8;
inline constexpr std::size_t retry_key_bytes = 1 + 3 * 8;

inline std::string order_prefix(char tag, const OrderKey& order) {
  std::string key(1, tag);
  put_u64(&key, order.merchant_id);
  put_u64(&key, order.order_id);
  return key;
}

inline std::string event_key(const OrderKey& order, std::uint64_t sequence) {
  std::string key = order_prefix(event_tag, order);
  put_u64(&key, sequence);
  return key;
}

inline std::string retry_key(std::uint64_t due_ns, const OrderKey& order) {
  std::string key(1, retry_tag);
  put_u64(&key, due_ns);
  put_u64(&key, order.merchant_id);
  put_u64(&key, order.order_id);
  return key;
}

inline std::string url_key(std::uint64_t merchant_id) {
  std::string key(1, url_tag);
  put_u64(&key, merchant_id);
  return key;
}

}  // namespace capillary::notify
