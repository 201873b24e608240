// Sockets and HTTP framing (Boost.Beast). The only translation unit that includes Beast, which
// is slow to compile; everything about routes and JSON lives in routes.cc and json_codec.cc.
//
// Each io thread runs its own io_context, and each connection is pinned to one of them, so a
// connection's handlers never run concurrently and need no strand. Connections read pipelined
// requests ahead of their answers, up to pipelined_requests_max (server.h), answering in order.
// Answers and their formatting reach a connection's thread through that thread's inbox, which
// wakes it once for however many arrive together (a batch's answers from the engine).

#include "server/server.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <cstdio>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "core/assert.h"
#include "core/this_thread.h"
#include "notify/metrics.h"
#include "server/json_codec.h"
#include "server/metrics.h"
#include "server/credit_api.h"
#include "server/payment_api.h"
#include "server/risk_api.h"
#include "server/request_parser.h"
#include "server/routes.h"

namespace capillary::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// How long a connection being closed after an error keeps reading (and dropping) what the client
// still sends, so the client reads our error response instead of a connection reset.
constexpr std::chrono::seconds linger_timeout{2};

// Bytes read from a socket at a time, at most.
constexpr std::size_t read_buffer_bytes = 64 * 1024;

constexpr std::chrono::milliseconds accept_retry_interval{100};

// A request read and not yet written back: its answer once it came, or bytes to send as they are
// (an interim 100 Continue).
struct Slot {
  static constexpr unsigned version_default = 11;  // HTTP/1.1, for answers to unparsed requests
  unsigned version = version_default;
  bool keep_alive = true;
  bool answered = false;
  std::optional<Response> response;
  std::string_view interim;
  // The request itself, kept until its answer is written: routes may hold views into it until
  // they answer.
  RequestText text;
};

// Slots a connection holds at once: pipelined_requests_max requests, and one more for an interim
// 100 Continue or an error answer taken while the last of them was being read.
constexpr std::size_t slots_max = pipelined_requests_max + 1;

// A connection's unanswered requests, oldest first, in slots allocated with the connection and
// reused: a slot's strings keep their capacity for the request that next takes it.
class SlotLine {
 public:
  SlotLine() : slots_(slots_max) {}

  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }
  Slot& front() { return (*this)[0]; }
  Slot& operator[](std::size_t i) {
    CAP_ASSERT(i < count_);
    return slots_[(first_ + i) % slots_max];
  }

  // A slot at the back of the line, with its fields at their defaults and the text its last
  // request left (which the caller replaces).
  Slot& push_back() {
    CAP_ASSERT(count_ < slots_max);
    ++count_;
    return (*this)[count_ - 1];
  }

  void pop_front() {
    Slot& slot = front();
    slot.version = Slot::version_default;
    slot.keep_alive = true;
    slot.answered = false;
    slot.response.reset();
    slot.interim = {};
    first_ = (first_ + 1) % slots_max;
    --count_;
  }

 private:
  std::vector<Slot> slots_;
  std::size_t first_ = 0;
  std::size_t count_ = 0;
};

class Session;

// One io thread: its io_context, and an inbox through which other threads hand it work. A task
// posted while the inbox is non-empty rides along with the wake-up already on its way, so the
// engine's answers to a batch cost the io thread one wake-up rather than one each. The inbox is
// bounded by what can be in flight: pipelined_requests_max per connection, connections_max.
class IoThread {
 public:
  IoThread() = default;
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  net::io_context& io() { return io_; }
  // True on this io thread.
  bool current() const { return current_ == this; }

  // Within a drain of the inbox, `session` writes its answers once every task drained has run,
  // in one write however many of them it got; false outside a drain.
  bool flush_after_drain(std::shared_ptr<Session> session) {
    if (!draining_) return false;
    flush_after_.push_back(std::move(session));
    return true;
  }

  // Runs `task` on this thread, after what was posted before it.
  void post(std::function<void()> task) {
    bool wake;
    {
      std::lock_guard lock(mutex_);
      wake = inbox_.empty();
      inbox_.push_back(std::move(task));
    }
    if (wake) net::post(io_, [this] { drain(); });
  }

  void run() {
    current_ = this;
    io_.run();
    current_ = nullptr;
  }

 private:
  void drain();  // after Session, whose answers it writes

  // Whose tasks the calling thread runs: set for the life of run().
  static thread_local IoThread* current_;

  net::io_context io_{1};  // run by this thread alone
  std::mutex mutex_;
  std::vector<std::function<void()>> inbox_;    // guarded by mutex_
  std::vector<std::function<void()>> running_;  // drained on this thread; kept for its capacity
  bool draining_ = false;
  std::vector<std::shared_ptr<Session>> flush_after_;  // sessions answered in this drain
};

thread_local IoThread* IoThread::current_ = nullptr;

std::string_view to_std(beast::string_view text) { return {text.data(), text.size()}; }
beast::string_view to_beast(std::string_view text) { return {text.data(), text.size()}; }

// The response head and body as they go on the wire, appended to `out`: written by hand rather
// than through Beast's serializer, whose header fields cost an allocation each, so that many
// answers can share one buffer and one write.
void append_response(std::string& out, const Response& response, unsigned version, bool keep_alive) {
  const beast::string_view reason = http::obsolete_reason(http::int_to_status(response.status));
  fmt::format_to(std::back_inserter(out),
                 "HTTP/{}.{} {} {}\r\nServer: capillary\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
                 version / 10, version % 10, response.status, to_std(reason), response.content_type,
                 response.body.size());
  if (response.retry_after_s != 0) fmt::format_to(std::back_inserter(out), "Retry-After: {}\r\n", response.retry_after_s);
  if (!response.allow.empty()) fmt::format_to(std::back_inserter(out), "Allow: {}\r\n", response.allow);
  // HTTP/1.1 keeps a connection open unless told; HTTP/1.0 closes it unless told.
  if (version >= 11 && !keep_alive) out += "Connection: close\r\n";
  if (version < 11 && keep_alive) out += "Connection: keep-alive\r\n";
  out += "\r\n";
  out += response.body;
}

// What the listener and every session share. Lives in run_server's frame, which outlives them.
struct Shared {
  const ServerOptions& options;
  Routes& routes;
  Metrics& metrics;
  const std::atomic<bool>& stopping;
  std::function<void(std::string_view)> log;
  std::function<void()> resume_accepting;

  std::mutex mutex;
  std::condition_variable sessions_changed;
  std::list<std::weak_ptr<Session>> sessions;  // guarded by mutex
};

// One connection. Requests are read one after another without waiting for earlier answers (up to
// pipelined_requests_max unanswered); each takes a slot in arrival order, answers fill the slots
// in whatever order the engine produces them, and the answered slots at the front go out together
// in one write. Everything here runs on the connection's io thread.
class Session : public std::enable_shared_from_this<Session>, public Responder {
 public:
  Session(tcp::socket socket, IoThread& thread, Shared& shared)
      : stream_(std::move(socket)), thread_(thread), shared_(shared) {
    // Room for a whole read from the start, so the buffer does not grow through the first reads.
    buffer_.reserve(read_buffer_bytes);
    // Writes are tried at once, and must not block when the client is slow to read.
    beast::error_code ignored;
    stream_.socket().non_blocking(true, ignored);
  }

  ~Session() override {
    {
      std::lock_guard lock(shared_.mutex);
      shared_.sessions.erase(registration_);
    }
    shared_.sessions_changed.notify_all();
    shared_.resume_accepting();
  }

  // Registers the session (so stop can reach it) and starts reading. Returns the number of
  // sessions now open.
  std::size_t start() {
    std::size_t open;
    {
      std::lock_guard lock(shared_.mutex);
      registration_ = shared_.sessions.insert(shared_.sessions.end(), weak_from_this());
      open = shared_.sessions.size();
    }
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_requests(); });
    return open;
  }

  // On this connection's thread, and not from within handle(), whose request the answer's write
  // could free under it, the answer goes straight to its slot; otherwise through the inbox.
  void respond(std::uint64_t sequence, Response response) override {
    if (thread_.current() && !handling_) return answer(sequence, std::move(response));
    thread_.post([self = shared_from_this(), sequence, response = std::move(response)]() mutable {
      self->answer(sequence, std::move(response));
    });
  }

  void post(std::function<void()> task) override { thread_.post(std::move(task)); }

  // The inbox drain that answered this connection is over: its answers go out.
  void flush_answers() {
    flush_pending_ = false;
    flush();
  }

  // Reads no further request. An idle connection closes now; one with requests in hand answers
  // them, the last with Connection: close, and then closes.
  void stop() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->read_closed_ = true;
      if (self->slots_.empty() && !self->writing_) return self->close();
      if (self->reading_) {
        beast::error_code ignored;
        self->stream_.socket().cancel(ignored);
      }
    });
  }

 private:
  // Hands every request already in the buffer to the routes, and reads from the socket only when
  // the buffer holds no whole request. Pipelined requests mostly arrive several to a read: parsing
  // them here, rather than through Beast's composed reads, spares each one a posted completion and
  // a turn of the stream's timer.
  void read_requests() {
    for (;;) {
      if (closed_) return;  // a failed write closed it: what is still buffered goes unhandled
      if (read_closed_ || shared_.stopping.load()) {
        read_closed_ = true;
        return finish_if_done();
      }
      if (slots_.size() >= pipelined_requests_max) {
        paused_ = true;  // the next write that drains a slot resumes
        return;
      }
      if (!parser_) {
        parser_.emplace(reading_text_);
        parser_->body_limit(shared_.options.body_bytes_max);
        header_seen_ = false;
      }
      switch (parse_buffered()) {
        case Parsed::request:
          handle();
          continue;
        case Parsed::failed:
          return;
        case Parsed::more:
          break;
      }
      break;
    }
    reading_ = true;
    stream_.expires_after(shared_.options.idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(read_buffer_bytes),
        [self = shared_from_this()](beast::error_code error, std::size_t bytes) {
          self->on_read(error, bytes);
        });
  }

  enum class Parsed { request, more, failed };

  // Feeds the buffered bytes to the parser: a whole request, a need for more bytes, or an error
  // already answered.
  Parsed parse_buffered() {
    while (buffer_.size() > 0) {
      beast::error_code error;
      const std::size_t used = parser_->put(buffer_.data(), error);
      buffer_.consume(used);
      if (error == http::error::need_more) return Parsed::more;
      if (error) {
        on_read_error(error);
        return Parsed::failed;
      }
      if (parser_->is_header_done() && !header_seen_) {
        header_seen_ = true;
        on_header();
      }
      if (parser_->is_done()) return Parsed::request;
      if (used == 0) return Parsed::more;
    }
    return Parsed::more;
  }

  void on_read(beast::error_code error, std::size_t bytes) {
    reading_ = false;
    // The end of the stream inside a request cuts it short; between requests it is a client done
    // asking.
    if (error == net::error::eof) {
      error = parser_->got_some() ? http::error::partial_message : http::error::end_of_stream;
    }
    if (error) return on_read_error(error);
    buffer_.commit(bytes);
    read_requests();
  }

  void on_header() {
    if (beast::iequals(to_beast(reading_text_.field(KeptField::expect)), "100-continue")) {
      static constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";
      Slot& slot = slots_.push_back();
      slot.answered = true;
      slot.interim = continue_response;
      flush();
    }
  }

  void on_read_error(beast::error_code error) {
    reading_ = false;
    read_closed_ = true;
    if (error == http::error::body_limit) {
      return send_error(
          {413,
           "body_too_large",
           fmt::format("the body is larger than {} bytes", shared_.options.body_bytes_max),
           {}});
    }
    // Any other HTTP framing error is the client's malformed request; end_of_stream and
    // partial_message only mean it hung up.
    if (error.category() == http::make_error_code(http::error::end_of_stream).category() &&
        error != http::error::end_of_stream && error != http::error::partial_message) {
      return send_error(
          {400, "bad_request", fmt::format("malformed HTTP: {}", error.message()), {}});
    }
    // The client left, timed out, or the server is stopping. A client that stopped sending, even
    // in the middle of a request, may still read: what it asked in full before is answered first.
    if (error == http::error::end_of_stream || error == http::error::partial_message ||
        error == net::error::operation_aborted) {
      return finish_if_done();
    }
    close();
  }

  // An error found before routing; the rest of the request is unread, so the connection closes
  // once the answers before it are written.
  void send_error(const ApiError& error) {
    unread_input_ = true;
    Response response;
    response.status = error.http_status;
    write_error(response.body, error);
    shared_.metrics.record_request(Route::unmatched, error.http_status, {});
    Slot& slot = slots_.push_back();
    slot.keep_alive = false;
    slot.answered = true;
    slot.response = std::move(response);
    flush();
  }

  void handle() {
    const std::uint64_t sequence = first_sequence_ + slots_.size();
    Slot& slot = slots_.push_back();
    // The slot takes the request's text, and the next request is read into the strings the
    // slot's previous request left, with their capacity.
    std::swap(slot.text, reading_text_);
    slot.keep_alive = parser_->keep_alive();
    slot.version = slot.text.version();
    parser_.reset();
    if (!slot.keep_alive) read_closed_ = true;
    RequestText& text = slot.text;
    const Request request{text.method(),
                          text.target(),
                          text.field(KeptField::content_type),
                          text.body(),
                          text.field(KeptField::key_id),
                          text.field(KeptField::timestamp),
                          text.field(KeptField::signature),
                          text.field(KeptField::idempotency_key),
                          text.field(KeptField::device),
                          text.field(KeptField::city)};
    handling_ = true;
    shared_.routes.handle(request, Respond(shared_from_this(), sequence));
    handling_ = false;
  }

  void answer(std::uint64_t sequence, Response response) {
    if (closed_) return;
    CAP_ASSERT(sequence >= first_sequence_ && sequence < first_sequence_ + slots_.size());
    Slot& slot = slots_[static_cast<std::size_t>(sequence - first_sequence_)];
    // Routes answer once; should a failure path answer twice, the first answer stands.
    if (slot.answered) return;
    slot.answered = true;
    slot.response = std::move(response);
    // The engine answers a batch at once, and a connection's pipelined requests are often in the
    // same batch: their answers arrive together through the inbox. Writing after the last of them
    // sends them in one write, where a write per answer cost a send each.
    if (flush_pending_) return;
    if (thread_.flush_after_drain(shared_from_this())) {
      flush_pending_ = true;
      return;
    }
    flush();
  }

  // Writes every answered slot at the front of the line, in one write.
  void flush() {
    if (writing_ || closed_) return;
    close_after_write_ = false;
    while (!slots_.empty() && slots_.front().answered && !close_after_write_) {
      Slot& slot = slots_.front();
      if (slot.response) {
        // The last answer the connection will give says so.
        const bool last = read_closed_ && slots_.size() == 1;
        const bool keep_alive = slot.keep_alive && !(last && shared_.stopping.load());
        append_response(out_, *slot.response, slot.version, keep_alive);
        close_after_write_ = !keep_alive;
      } else {
        out_.append(slot.interim);
      }
      slots_.pop_front();
      ++first_sequence_;
    }
    if (out_.empty()) return finish_if_done();
    writing_ = true;
    // Answers mostly fit the socket's send buffer. Written at once, they need no asynchronous
    // write, which would post its completion and arm the stream's timer.
    beast::error_code error;
    const std::size_t written = stream_.socket().write_some(net::buffer(out_), error);
    if (!error && written == out_.size()) return on_written({});
    if (error && error != net::error::would_block) return on_written(error);
    out_.erase(0, written);
    stream_.expires_after(shared_.options.idle_timeout);
    net::async_write(stream_, net::buffer(out_),
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       self->on_written(error);
                     });
  }

  void on_written(beast::error_code error) {
    writing_ = false;
    out_.clear();
    if (error) return close();
    if (close_after_write_) {
      // A request cut short leaves bytes unread; linger so they do not turn the response into
      // a reset.
      if (unread_input_) return linger();
      return close();
    }
    if (paused_ && slots_.size() < pipelined_requests_max) {
      paused_ = false;
      read_requests();
    }
    flush();
  }

  // With reading over and every answer written, the connection has nothing left to do.
  void finish_if_done() {
    if (read_closed_ && !reading_ && slots_.empty() && !writing_ && !closed_) close();
  }

  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(linger_timeout);
    drain();
  }

  void drain() {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(read_buffer_bytes),
                            [self = shared_from_this()](beast::error_code error, std::size_t) {
                              if (error) return self->close();
                              self->drain();
                            });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  IoThread& thread_;                // runs every handler of this connection
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;  // the request being read, into reading_text_
  bool header_seen_ = false;        // parser_ has read the request's header, and it was looked at
  RequestText reading_text_;
  SlotLine slots_;                  // unanswered requests, oldest first
  std::uint64_t first_sequence_ = 0;  // of slots_.front()
  std::string out_;                 // the write in progress
  bool reading_ = false;            // a read from the socket is under way
  bool read_closed_ = false;        // no further request will be read
  bool paused_ = false;             // reading waits for answers to drain
  bool writing_ = false;
  bool close_after_write_ = false;
  bool unread_input_ = false;       // an error left part of a request unread
  bool closed_ = false;
  bool handling_ = false;           // within routes.handle()
  bool flush_pending_ = false;      // answered within an inbox drain, written at its end
  Shared& shared_;
  std::list<std::weak_ptr<Session>>::iterator registration_;
};

void IoThread::drain() {
  {
    std::lock_guard lock(mutex_);
    CAP_ASSERT(running_.empty());
    running_.swap(inbox_);
  }
  draining_ = true;
  for (std::function<void()>& task : running_) task();
  running_.clear();
  draining_ = false;
  for (const std::shared_ptr<Session>& session : flush_after_) session->flush_answers();
  flush_after_.clear();
}

// Accepts connections until stopped, pausing while connections_max are open, and pins each to
// the next io thread in turn. Runs on the first io thread.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(std::span<std::unique_ptr<IoThread>> threads, Shared& shared)
      : threads_(threads),
        io_(threads.front()->io()),
        acceptor_(io_),
        retry_timer_(io_),
        shared_(shared) {}

  Status listen() {
    beast::error_code error;
    tcp::resolver resolver(io_);
    const auto endpoints =
        resolver.resolve(shared_.options.host, std::to_string(shared_.options.port), error);
    if (error || endpoints.empty()) {
      return Status::invalid_argument(
          fmt::format("cannot resolve {}: {}", shared_.options.host, error.message()));
    }
    const tcp::endpoint endpoint = *endpoints.begin();
    acceptor_.open(endpoint.protocol(), error);
    if (!error) acceptor_.set_option(net::socket_base::reuse_address(true), error);
    if (!error) acceptor_.bind(endpoint, error);
    if (!error) acceptor_.listen(net::socket_base::max_listen_connections, error);
    if (error) {
      return Status::io_error(fmt::format("cannot listen on {}:{}: {}", shared_.options.host,
                                          shared_.options.port, error.message()));
    }
    return Status::ok();
  }

  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

  void start() {
    net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->accept(); });
  }

  void resume() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      if (!self->paused_) return;
      self->paused_ = false;
      self->accept();
    });
  }

  void stop() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
    });
  }

 private:
  void accept() {
    if (!acceptor_.is_open()) return;
    IoThread& thread = *threads_[next_thread_];
    next_thread_ = (next_thread_ + 1) % threads_.size();
    acceptor_.async_accept(thread.io(), [self = shared_from_this(), &thread](beast::error_code error,
                                                                             tcp::socket socket) {
      if (error == net::error::operation_aborted || !self->acceptor_.is_open()) return;
      if (error) return self->retry_accept(error);
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      const std::size_t open =
          std::make_shared<Session>(std::move(socket), thread, self->shared_)->start();
      if (open >= self->shared_.options.connections_max) {
        self->paused_ = true;  // the next session to end resumes
        return;
      }
      self->accept();
    });
  }

  // Accepting failed (out of file descriptors, a connection reset in the backlog): try again
  // shortly instead of spinning on an error that will not clear at once.
  void retry_accept(beast::error_code error) {
    shared_.log(fmt::format("capillary: accept failed: {}; retrying", error.message()));
    retry_timer_.expires_after(accept_retry_interval);
    retry_timer_.async_wait([self = shared_from_this()](beast::error_code) { self->accept(); });
  }

  std::span<std::unique_ptr<IoThread>> threads_;
  std::size_t next_thread_ = 0;  // the thread the next connection is pinned to
  net::io_context& io_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_timer_;
  Shared& shared_;
  bool paused_ = false;  // on the first io thread
};

}  // namespace

Status run_server(engine::Engine& engine, const ServerOptions& options,
                  const std::atomic<bool>& stop) {
  const auto log = [&options](std::string_view line) {
    if (options.log) return options.log(line);
    fmt::print(stderr, "{}\n", line);
  };
  Metrics metrics;
  std::atomic<bool> stopping{false};
  std::vector<std::unique_ptr<IoThread>> io_threads;
  for (int i = 0; i < std::max(1, options.threads); ++i) io_threads.push_back(std::make_unique<IoThread>());
  net::thread_pool blocking(static_cast<std::size_t>(options.blocking_threads));
  // Work not tied to one connection goes to the io threads in turn.
  std::atomic<std::size_t> next_io_thread{0};
  const Post post_io = [&io_threads, &next_io_thread](std::function<void()> task) {
    io_threads[next_io_thread.fetch_add(1, std::memory_order_relaxed) % io_threads.size()]->post(std::move(task));
  };
  std::unique_ptr<PaymentApi> payments;
  if (options.keyring != nullptr) {
    CAP_ASSERT(options.gateway == nullptr || options.card_calls != nullptr);
    payments = std::make_unique<PaymentApi>(engine, *options.keyring, options.gateway, options.banks,
                                            options.card_calls,
                                            options.notifier, options.risk, options.platform_clock,
                                            options.income_step_holders, metrics, post_io);
  }
  std::unique_ptr<RiskApi> risk;
  if (options.keyring != nullptr && options.risk != nullptr) {
    risk = std::make_unique<RiskApi>(*options.risk, *options.keyring, metrics);
  }
  std::unique_ptr<CreditApi> credit;
  if (options.keyring != nullptr && options.credit_model != nullptr) {
    credit = std::make_unique<CreditApi>(engine, *options.keyring, *options.credit_model, metrics, post_io);
  }
  Routes routes(
      engine, metrics,
      [&blocking](std::function<void()> task) { net::post(blocking, std::move(task)); }, stopping,
      payments.get(), [&options, &payments] {
        std::string text;
        if (payments != nullptr) text += payments->render_metrics();
        if (options.gateway != nullptr) text += options.gateway->render_metrics();
        if (options.notifier != nullptr) text += notify::render_metrics(options.notifier->counters());
        return text;
      },
      risk.get(), credit.get());

  std::shared_ptr<Listener> listener;
  Shared shared{options, routes, metrics, stopping, log, [&listener] { listener->resume(); },
                {},      {},     {}};
  listener = std::make_shared<Listener>(io_threads, shared);
  if (Status status = listener->listen(); !status.is_ok()) return status;
  const tcp::endpoint endpoint = listener->local_endpoint();
  log(fmt::format("capillary: listening on http://{}:{}", endpoint.address().to_string(),
                  endpoint.port()));

  std::vector<net::executor_work_guard<net::io_context::executor_type>> work;
  for (const auto& io_thread : io_threads) work.push_back(net::make_work_guard(io_thread->io()));
  listener->start();
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < io_threads.size(); ++i) {
    threads.emplace_back([&io_thread = io_threads[i], i] {
      name_this_thread(fmt::format("io-{}", i));
      io_thread->run();
    });
  }

  while (!stop.load()) std::this_thread::sleep_for(stop_poll_interval);

  // Drain: no new connections, idle ones closed, busy ones answered and then closed. Requests
  // already with the engine always complete (the engine finishes what it accepted), so waiting
  // for the last session is bounded by a batch commit plus the write timeout.
  stopping.store(true);
  listener->stop();
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard lock(shared.mutex);
    for (const std::weak_ptr<Session>& weak : shared.sessions) {
      if (auto session = weak.lock()) open.push_back(std::move(session));
    }
  }
  // Outside the lock: dropping the last reference runs a session's destructor, which takes it.
  for (const auto& session : open) session->stop();
  open.clear();
  {
    std::unique_lock lock(shared.mutex);
    shared.sessions_changed.wait(lock, [&shared] { return shared.sessions.empty(); });
  }

  work.clear();
  for (const auto& io_thread : io_threads) io_thread->io().stop();
  for (std::thread& thread : threads) thread.join();
  blocking.join();
  log("capillary: server stopped");
  return Status::ok();
}

}  // namespace capillary::server
