#pragma once
// What the risk engine decides on: one login, payment, transfer or withdrawal, as the server sees
// it before the command is journaled. A plain struct; ids are the platform's 64-bit ids, 0 for
// "none".

#include <cstdint>

namespace capillary::risk {

enum class EventKind : std::uint8_t { login, payment, transfer, withdrawal };
enum class Channel : std::uint8_t { app, web, offline_qr, api };

struct Event {
  std::uint64_t event_id = 0;
  EventKind kind = EventKind::payment;
  Channel channel = Channel::app;
  // The account that is charged (or logs in).
  std::uint64_t user_id = 0;
  // Who is authenticated: the account holder, or a linked family member paying from the account
  // (family pay). 0 means the account holder.
  std::uint64_t actor_user_id = 0;
  std::uint64_t device_id = 0;
  std::uint64_t ip = 0;
  std::uint32_t city_id = 0;  // index in geo.h's city table
  std::int32_t lat_e4 = 0;    // position, degrees x 10^4
  std::int32_t lon_e4 = 0;
  std::uint64_t merchant_id = 0;  // payments
  std::uint64_t payee_id = 0;     // transfers (and withdrawals: the bank card's holder id)
  std::int64_t amount_fen = 0;    // 0 for a login
  std::uint64_t timestamp_ns = 0;

  std::uint64_t actor() const { return actor_user_id == 0 ? user_id : actor_user_id; }
};

}  // namespace capillary::risk
