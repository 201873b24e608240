#pragma once
// A Connector that calls the bank simulator (or any bank speaking channels/wire.h) over HTTP/1.1.
//
// - Keep-alive pool: a call takes an idle connection or opens one; a connection the server kept
//   alive goes back to the pool when the answer is read.
// - Bounded in flight: at most `connections_max` calls at once, one per connection. A call past
//   that is answered at once with failed(busy), on the caller's thread, and nothing is sent.
// - Timeout: the whole call (connect, send, answer) has `timeout`. A call that times out after its
//   request was sent, or whose connection drops then, fails with `timeout`: the bank may have
//   acted. A reused connection that turns out to be closed by the server is retried once on a
//   fresh one, which is safe because the bank deduplicates by our reference.
//
// Answers arrive on the connector's own threads. Destroy the connector only after every call has
// been answered; fetch_statement blocks and may be called from any other thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "channels/connector.h"
#include "core/status.h"

namespace capillary::channels {

// A statement of a busy channel day: ~70 bytes a line, over three million operations.
inline constexpr std::size_t statement_bytes_max = 256u << 20;
// A bank's JSON answer is a few hundred bytes; anything much larger is not one.
inline constexpr std::size_t answer_bytes_max = 64u << 10;

struct HttpConnectorOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::size_t connections_max = 64;  // also the bound on calls in flight
  std::chrono::milliseconds timeout{2000};
  int threads = 1;
};

class HttpConnector final : public Connector {
 public:
  // Resolves the host and starts the connector's threads; throws std::runtime_error if the host
  // cannot be resolved (a start-up edge). Connections are opened lazily.
  explicit HttpConnector(const HttpConnectorOptions& options);
  ~HttpConnector() override;
  HttpConnector(const HttpConnector&) = delete;
  HttpConnector& operator=(const HttpConnector&) = delete;

  void debit_card(const BankRequest& request, BankCallback callback) override;
  void credit_card(const BankRequest& request, BankCallback callback) override;
  void query(ChannelId channel_id, const std::string& reference, BankCallback callback) override;

  // GETs a channel's statement file (CSV, wire.h) on a connection of its own.
  Status fetch_statement(ChannelId channel_id, std::string* csv);

  std::size_t in_flight() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace capillary::channels
