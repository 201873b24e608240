// Beast client side of channels/wire.h. Each call runs on the strand of the connection it holds,
// one operation at a time; the pool is the only state shared between calls.

#include "channels/http_connector.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "channels/limits.h"
#include "channels/wire.h"
#include "core/assert.h"

namespace capillary::channels {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

struct Connection {
  explicit Connection(net::io_context& io) : stream(net::make_strand(io)) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  http::request<http::string_body> request;
  std::optional<http::response_parser<http::string_body>> parser;
  simdjson::dom::parser json;
  bool connected = false;
};

std::string request_body(const BankRequest& request) {
  return fmt::format(R"({{"reference":"{}","card":"{}","bank_code":"{}","amount_fen":{}{}}})",
                     request.reference, request.card_token, request.bank_code, request.amount_fen,
                     request.refund ? R"(,"refund":true)" : "");
}

bool wire_safe(const BankRequest& request) {
  return wire::is_identifier(request.reference, reference_bytes_max) &&
         wire::is_identifier(request.card_token, card_token_bytes_max) &&
         wire::is_identifier(request.bank_code, bank_code_bytes_max) && request.amount_fen > 0;
}

BankResponse failure(FailureKind kind) {
  BankResponse response;
  response.outcome = BankOutcome::failed;
  response.failure = kind;
  return response;
}

// A 200 answer's body; anything unreadable is the bank's error.
BankResponse parse_answer(simdjson::dom::parser& json, const std::string& body) {
  simdjson::dom::object answer;
  std::string_view outcome;
  if (json.parse(body).get(answer) != simdjson::SUCCESS ||
      answer["outcome"].get(outcome) != simdjson::SUCCESS) {
    return failure(FailureKind::error);
  }
  BankResponse response;
  std::string_view text;
  if (answer["bank_reference"].get(text) == simdjson::SUCCESS) response.bank_reference = text;
  if (outcome == "approved" && !response.bank_reference.empty()) {
    response.outcome = BankOutcome::approved;
  } else if (outcome == "declined") {
    response.outcome = BankOutcome::declined;
    if (answer["reason"].get(text) == simdjson::SUCCESS) response.decline_reason = text;
  } else {
    return failure(FailureKind::error);
  }
  return response;
}

}  // namespace

class HttpConnector::Impl {
 public:
  explicit Impl(const HttpConnectorOptions& options)
      : options_(options), work_(net::make_work_guard(io_)) {
    CAP_ASSERT(options.connections_max >= 1 && options.threads >= 1);
    beast::error_code error;
    tcp::resolver resolver(io_);
    endpoints_ = resolver.resolve(options.host, std::to_string(options.port), error);
    if (error || endpoints_.empty()) {
      throw std::runtime_error(
          fmt::format("cannot resolve {}:{}: {}", options.host, options.port, error.message()));
    }
    host_header_ = fmt::format("{}:{}", options.host, options.port);
    for (int i = 0; i < options.threads; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  ~Impl() {
    work_.reset();
    io_.stop();
    for (std::thread& thread : threads_) thread.join();
  }

  void call(BankApi api, const BankRequest& request, BankCallback callback);
  void query(ChannelId channel_id, const std::string& reference, BankCallback callback);
  Status fetch_statement(ChannelId channel_id, std::string* csv);

  std::size_t in_flight() const {
    std::lock_guard lock(mutex_);
    return in_flight_;
  }

 private:
  class Call;

  void send(std::string target, std::string body, BankCallback callback);

  // A connection for one call, or null when connections_max calls are in flight.
  std::unique_ptr<Connection> acquire(bool* reused) {
    std::lock_guard lock(mutex_);
    if (in_flight_ >= options_.connections_max) return nullptr;
    ++in_flight_;
    *reused = !idle_.empty();
    if (!*reused) return std::make_unique<Connection>(io_);
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    return connection;
  }

  void release(std::unique_ptr<Connection> connection, bool keep) {
    std::lock_guard lock(mutex_);
    CAP_ASSERT(in_flight_ >= 1);
    --in_flight_;
    if (keep) idle_.push_back(std::move(connection));
    CAP_ASSERT(idle_.size() + in_flight_ <= options_.connections_max);
  }

  const HttpConnectorOptions options_;
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  tcp::resolver::results_type endpoints_;
  std::string host_header_;
  std::vector<std::thread> threads_;
  mutable std::mutex mutex_;
  std::size_t in_flight_ = 0;                      // guarded by mutex_
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
};

// One bank call: connect if needed, send, read the answer, answer the callback exactly once.
class HttpConnector::Impl::Call : public std::enable_shared_from_this<Call> {
 public:
  // A call POSTs `body` to `target`; a query (empty body) GETs it.
  Call(Impl& impl, std::unique_ptr<Connection> connection, bool reused, std::string target,
       std::string body, BankCallback callback)
      : impl_(impl),
        connection_(std::move(connection)),
        reused_(reused),
        query_(body.empty()),
        callback_(std::move(callback)),
        started_(SteadyClock::now()),
        deadline_(started_ + impl.options_.timeout) {
    auto& message = connection_->request;
    message = {};
    message.method(query_ ? http::verb::get : http::verb::post);
    message.target(std::move(target));
    message.version(11);
    message.set(http::field::host, impl.host_header_);
    if (!query_) message.set(http::field::content_type, "application/json");
    message.keep_alive(true);
    message.body() = std::move(body);
    message.prepare_payload();
  }

  auto executor() { return connection_->stream.get_executor(); }

  void start() {
    if (connection_->connected) return send();
    connection_->stream.expires_at(deadline_);
    connection_->stream.async_connect(
        impl_.endpoints_, [self = shared_from_this()](beast::error_code error, const auto&) {
          if (error) {
            return self->finish(failure(error == beast::error::timeout ? FailureKind::timeout
                                                                       : FailureKind::connection),
                                false);
          }
          self->connection_->connected = true;
          beast::error_code ignored;
          self->connection_->stream.socket().set_option(tcp::no_delay(true), ignored);
          self->send();
        });
  }

 private:
  void send() {
    connection_->stream.expires_at(deadline_);
    http::async_write(connection_->stream, connection_->request,
                      [self = shared_from_this()](beast::error_code error, std::size_t) {
                        if (error) return self->on_error(error);
                        self->receive();
                      });
  }

  void receive() {
    connection_->buffer.clear();
    connection_->parser.emplace();
    connection_->parser->body_limit(answer_bytes_max);
    connection_->stream.expires_at(deadline_);
    http::async_read(connection_->stream, connection_->buffer, *connection_->parser,
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       if (error) return self->on_error(error);
                       self->on_answer();
                     });
  }

  // A pooled connection the server closed while idle fails on first use: resend once on a fresh
  // one. Otherwise the request may have reached the bank, so the outcome is unknown (timeout).
  void on_error(beast::error_code error) {
    if (reused_ && error != beast::error::timeout) {
      reused_ = false;
      reset_connection();
      return start();
    }
    finish(failure(FailureKind::timeout), false);
  }

  void on_answer() {
    const auto& answer = connection_->parser->get();
    const bool keep = answer.keep_alive();
    switch (answer.result_int()) {
      case wire::status_ok:
        return finish(parse_answer(connection_->json, answer.body()), keep);
      case wire::status_over_capacity:
        return finish(failure(FailureKind::overloaded), keep);
      case wire::status_not_found:
        if (query_ && answer.body().find(wire::unknown_reference_error) != std::string::npos) {
          return finish(failure(FailureKind::unknown_reference), keep);
        }
        return finish(failure(FailureKind::error), keep);
      default:
        return finish(failure(FailureKind::error), keep);
    }
  }

  void reset_connection() {
    beast::error_code ignored;
    connection_->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    connection_->stream.close();
    connection_->connected = false;
  }

  void finish(BankResponse response, bool keep) {
    response.latency =
        std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - started_);
    if (!keep) reset_connection();
    impl_.release(std::move(connection_), keep);
    callback_(std::move(response));
  }

  Impl& impl_;
  std::unique_ptr<Connection> connection_;
  bool reused_;
  const bool query_;
  BankCallback callback_;
  const SteadyClock::time_point started_;
  const SteadyClock::time_point deadline_;
};

void HttpConnector::Impl::call(BankApi api, const BankRequest& request, BankCallback callback) {
  if (!wire_safe(request)) return callback(failure(FailureKind::error));
  send(fmt::format("{}{}/{}", wire::banks_prefix, request.channel_id, name(api)), request_body(request),
       std::move(callback));
}

void HttpConnector::Impl::query(ChannelId channel_id, const std::string& reference, BankCallback callback) {
  if (!wire::is_identifier(reference, reference_bytes_max)) return callback(failure(FailureKind::error));
  send(fmt::format("{}{}/{}{}", wire::banks_prefix, channel_id, wire::operations_infix, reference), {},
       std::move(callback));
}

void HttpConnector::Impl::send(std::string target, std::string body, BankCallback callback) {
  bool reused = false;
  auto connection = acquire(&reused);
  if (!connection) return callback(failure(FailureKind::busy));
  auto call = std::make_shared<Call>(*this, std::move(connection), reused, std::move(target), std::move(body),
                                     std::move(callback));
  net::dispatch(call->executor(), [call] { call->start(); });
}

Status HttpConnector::Impl::fetch_statement(ChannelId channel_id, std::string* csv) {
  net::io_context io;
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  http::request<http::empty_body> request{
      http::verb::get,
      fmt::format("{}{}/{}", wire::banks_prefix, channel_id, wire::statement_suffix), 11};
  request.set(http::field::host, host_header_);
  http::response_parser<http::string_body> parser;
  parser.body_limit(statement_bytes_max);
  beast::error_code failed;
  stream.expires_after(options_.timeout);
  stream.async_connect(endpoints_, [&](beast::error_code error, const auto&) {
    if (error) return void(failed = error);
    http::async_write(stream, request, [&](beast::error_code error, std::size_t) {
      if (error) return void(failed = error);
      http::async_read(stream, buffer, parser,
                       [&](beast::error_code error, std::size_t) { failed = error; });
    });
  });
  io.run();
  if (failed) {
    return Status::io_error(
        fmt::format("statement of channel {}: {}", channel_id, failed.message()));
  }
  if (parser.get().result_int() != wire::status_ok) {
    return Status::not_found(
        fmt::format("statement of channel {}: HTTP {}", channel_id, parser.get().result_int()));
  }
  *csv = std::move(parser.get().body());
  return Status::ok();
}

HttpConnector::HttpConnector(const HttpConnectorOptions& options)
    : impl_(std::make_unique<Impl>(options)) {}
HttpConnector::~HttpConnector() = default;

void HttpConnector::debit_card(const BankRequest& request, BankCallback callback) {
  impl_->call(BankApi::debit_card, request, std::move(callback));
}

void HttpConnector::credit_card(const BankRequest& request, BankCallback callback) {
  impl_->call(BankApi::credit_card, request, std::move(callback));
}

void HttpConnector::query(ChannelId channel_id, const std::string& reference, BankCallback callback) {
  impl_->query(channel_id, reference, std::move(callback));
}

Status HttpConnector::fetch_statement(ChannelId channel_id, std::string* csv) {
  return impl_->fetch_statement(channel_id, csv);
}

std::size_t HttpConnector::in_flight() const { return impl_->in_flight(); }

}  // namespace capillary::channels
