#pragma once
// The load generator's HTTP side: requests signed as the platform, sent over a few non-blocking
// keep-alive connections from one epoll loop, pipelined up to a depth per connection, so one
// thread keeps thousands of requests per second in flight and overload shows up as answers
// (rejections, latency), never as a generator that slows down. Requests beyond what the
// connections may carry wait in a backlog, in order.

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/hmac.h"
#include "cli/http_client.h"
#include "core/status.h"

namespace capillary::cli::load {

using Clock = std::chrono::steady_clock;

// Signs requests as the platform (auth.h): the three signature headers, and an Idempotency-Key
// on every POST.
class Signer {
 public:
  explicit Signer(std::string_view platform_secret) : key_(platform_secret) {}

  // A whole request, ready to write. `idempotency_key` is empty for a GET.
  std::string request(const Target& target, std::string_view method, std::string_view path,
                      std::string_view body, std::string_view idempotency_key) const;

 private:
  auth::HmacKey key_;
};

// Who gets the answers: called from Client::poll, which the handler may call submit() from.
class AnswerHandler {
 public:
  virtual ~AnswerHandler() = default;
  virtual void on_response(std::uint64_t tag, const HttpResponse& response) = 0;
  // The request got no answer: its connection failed or closed first. It may or may not have
  // reached the server.
  virtual void on_failure(std::uint64_t tag, std::string_view why) = 0;
};

class Client {
 public:
  // `depth`: requests in flight per connection; the server answers them in order.
  Client(Target target, std::uint32_t connections, std::uint32_t depth);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Opens every connection, so an unreachable server is reported before anything is sent.
  Status connect();

  const Target& target() const { return target_; }

  // Queues a complete request; `tag` comes back with its answer.
  void submit(std::uint64_t tag, std::string request);

  // Does I/O until `deadline` or until at least one answer was handled, whichever is first.
  void poll(Clock::time_point deadline, AnswerHandler& handler);

  std::size_t backlog() const { return backlog_.size(); }
  // Forgets the requests not yet handed to a connection; returns their tags.
  std::vector<std::uint64_t> drop_backlog();
  std::size_t in_flight() const { return in_flight_; }
  bool idle() const { return backlog_.empty() && in_flight_ == 0; }

 private:
  struct Connection {
    int fd = -1;
    std::string out;             // bytes not yet written
    std::size_t out_offset = 0;  // of which this many were written
    std::string in;              // bytes received and not yet parsed
    std::deque<std::uint64_t> tags;  // in flight, in the order sent
    bool watching_out = false;   // EPOLLOUT is on
  };

  Status open(Connection& connection);
  void fill(Connection& connection);
  void write(Connection& connection, AnswerHandler& handler);
  void read(Connection& connection, AnswerHandler& handler);
  void fail(Connection& connection, std::string_view why, AnswerHandler& handler);
  void watch(Connection& connection, bool out);

  Target target_;
  std::uint32_t depth_;
  int epoll_fd_ = -1;
  std::vector<Connection> connections_;
  // Connections with bytes to write, each listed once: poll() writes only these, not every
  // connection, so its cost follows the traffic rather than the connection count.
  std::vector<std::uint32_t> unwritten_, writing_;
  // One recv's worth of bytes, shared by every connection: received data is appended to a
  // connection's `in` as it arrives, never zero-filled ahead of the read.
  std::unique_ptr<char[]> read_buffer_;
  std::deque<std::pair<std::uint64_t, std::string>> backlog_;
  std::size_t in_flight_ = 0;
  std::size_t next_connection_ = 0;  // where fill() starts: spreads requests evenly
  std::vector<epoll_event> events_;
};

}  // namespace capillary::cli::load
