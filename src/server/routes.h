#pragma once
// The API's routes: each turns a request into engine submissions, reads or history lookups and
// answers exactly once. Free of any HTTP library, so the handlers compile without Beast and can
// be driven directly; server.cc owns the sockets.
//
// Threads: handle() runs on an io thread and never blocks. Engine callbacks only copy what they
// need and hand formatting back to the io thread that writes the answer (Call::post), so the
// engine thread is never held up by JSON. History reads wait for the history store
// (Engine::wait_for_history blocks for milliseconds while it catches up), so they run on a
// separate small pool (`post_blocking`) and never stall an io thread that other connections share.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "server/metrics.h"

namespace capillary::server {

class Call;
class PaymentApi;
class RiskApi;
class CreditApi;

struct Request {
  std::string_view method;
  std::string_view target;        // path and query, as sent
  std::string_view content_type;  // empty when absent
  std::string& body;              // JSON parsers pad it in place
  // Authentication and idempotency headers (docs/auth.md), empty when absent.
  std::string_view key_id = {};
  std::string_view timestamp = {};
  std::string_view signature = {};
  std::string_view idempotency_key = {};
  // What the app reports about the device and where it is, for risk control (docs/risk.md).
  std::string_view device = {};
  std::string_view city = {};
};

struct Response {
  unsigned status = 200;
  std::string body;
  std::string_view content_type = "application/json";
  std::uint32_t retry_after_s = 0;  // sent as Retry-After when not zero
  std::string allow;                // sent as Allow with a 405
};

// Runs a task on another thread.
using Post = std::function<void(std::function<void()>)>;

// An engine read's reply (engine::Engine::Read) that hands `task` to `post`, which must outlive it.
inline std::function<void()> post_later(const Post& post, std::function<void()> task) {
  return [&post, task = std::move(task)]() mutable { post(std::move(task)); };
}

// Where a request's answer goes: the server implements it per connection.
class Responder {
 public:
  virtual ~Responder() = default;
  // Delivers the answer to the request numbered `request`; callable once per request, from any
  // thread.
  virtual void respond(std::uint64_t request, Response response) = 0;
  // Runs `task` on the io thread that writes this connection's answers, so that an answer given
  // from the task reaches its connection without another hop between threads.
  virtual void post(std::function<void()> task) = 0;
};

// Delivers one request's response. Copies are cheap (no allocation) and share the connection,
// which they keep alive until the answer is given.
class Respond {
 public:
  Respond(std::shared_ptr<Responder> to, std::uint64_t request) : to_(std::move(to)), request_(request) {}
  // Callable once, from any thread.
  void operator()(Response response) const { to_->respond(request_, std::move(response)); }
  void post(std::function<void()> task) const { to_->post(std::move(task)); }

 private:
  std::shared_ptr<Responder> to_;
  std::uint64_t request_;
};

class Routes {
 public:
  // `stopping` turns /readyz to 503 while the server drains.
  // `payments`, when set, answers the product routes (payment_api.h); `extra_metrics` appends
  // other subsystems' lines (bank channels, notifications) to /metrics; `risk` and `credit`, when
  // set, answer the risk control and credit score routes (risk_api.h, credit_api.h).
  Routes(engine::Engine& engine, Metrics& metrics, Post post_blocking,
         const std::atomic<bool>& stopping, PaymentApi* payments = nullptr,
         std::function<std::string()> extra_metrics = {}, RiskApi* risk = nullptr,
         CreditApi* credit = nullptr);
  Routes(const Routes&) = delete;
  Routes& operator=(const Routes&) = delete;

  // Answers through `respond`, now or later. Request views need only live until it returns.
  void handle(const Request& request, Respond respond) noexcept;

 private:
  void create_accounts(const Request& request, const Call& call);
  void create_transfers(const Request& request, const Call& call);
  template <typename Result, typename Event, typename Submit>
  void submit_events(std::vector<Event> events, const Call& call, Submit submit);
  void get_account(std::uint64_t id, const Call& call);
  void get_transfer(std::uint64_t id, const Call& call);
  template <typename Record, typename Find, typename Write>
  void lookup(const Request& request, const Call& call, std::string_view list, Find find,
              Write write);
  void lookup_accounts(const Request& request, const Call& call);
  void lookup_transfers(const Request& request, const Call& call);
  void statement(std::uint64_t id, std::string_view query, const Call& call);
  void balance(std::uint64_t id, std::string_view query, const Call& call);
  void status(const Call& call);
  void readyz(const Call& call);
  void metrics(const Call& call);
  // Runs `read` on the engine thread, then `answer(read's value)` on an io thread.
  template <typename Read, typename Answer>
  void read_then(const Call& call, Read read, Answer answer);

  engine::Engine& engine_;
  Metrics& metrics_;
  Post post_blocking_;
  const std::atomic<bool>& stopping_;
  PaymentApi* payments_;
  std::function<std::string()> extra_metrics_;
  RiskApi* risk_;
  CreditApi* credit_;
};

}  // namespace capillary::server
