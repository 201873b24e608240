#pragma once
// The bank simulator's HTTP server (wire format: channels/wire.h): one process playing every
// configured channel's bank. Answers are delayed with timers on the io threads, never by blocking
// a thread, so a few threads carry thousands of slow calls at once.
//
//   banksim::BankSimServer server(config, {.host = "127.0.0.1", .port = 0});
//   if (Status status = server.start(); !status.is_ok()) ...;
//   ... server.port() ...
//   server.stop();  // also done by the destructor
//
// The config and clock must outlive the server.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "banksim/bank.h"
#include "channels/config.h"
#include "core/clock.h"
#include "core/status.h"

namespace capillary::banksim {

// A call's JSON body is under 200 bytes; anything past this is not one.
inline constexpr std::size_t request_body_bytes_max = 4096;

// Connections served at once; more wait in the listen backlog. Each holds one call at a time.
inline constexpr std::size_t connections_max = 4096;

struct BankSimOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0 picks a free port; see port()
  int threads = 1;
  std::chrono::seconds idle_timeout{60};
};

class BankSimServer {
 public:
  BankSimServer(const channels::BanksConfig& config, const BankSimOptions& options,
                const Clock& clock);
  ~BankSimServer();
  BankSimServer(const BankSimServer&) = delete;
  BankSimServer& operator=(const BankSimServer&) = delete;

  // Binds and starts serving on the server's own threads. An error when the address is taken.
  Status start();
  // Stops accepting, closes every connection (calls waiting on their delay are dropped) and
  // joins the threads.
  void stop();
  std::uint16_t port() const;

  // nullptr for a channel that is not configured.
  SimulatedBank* bank(channels::ChannelId channel_id);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace capillary::banksim
