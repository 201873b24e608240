// Beast server side of channels/wire.h. Each connection runs on its own strand and holds one call
// at a time; a call's delay is a steady_timer on that strand.

#include "banksim/server.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <optional>
#include <thread>
#include <vector>

#include "channels/limits.h"
#include "channels/wire.h"
#include "core/assert.h"

namespace capillary::banksim {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace wire = channels::wire;
using tcp = net::ip::tcp;
using channels::BankApi;

std::string_view to_std(beast::string_view text) { return {text.data(), text.size()}; }

struct Reply {
  unsigned status = wire::status_ok;
  std::string_view content_type = "application/json";
  std::string body;
  std::chrono::microseconds delay{0};
  bool retry_after = false;
};

Reply error_reply(unsigned status, std::string_view error) {
  return {status, "application/json", fmt::format(R"({{"error":"{}"}})", error), {}, false};
}

Reply decision_reply(const Decision& decision) {
  switch (decision.verdict) {
    case Verdict::approved:
      return {
          wire::status_ok, "application/json",
          fmt::format(R"({{"outcome":"approved","bank_reference":"{}"}})", decision.bank_reference),
          decision.delay, false};
    case Verdict::declined:
      return {wire::status_ok, "application/json",
              fmt::format(R"({{"outcome":"declined","reason":"{}","bank_reference":"{}"}})",
                          decision.decline_reason, decision.bank_reference),
              decision.delay, false};
    case Verdict::error: {
      Reply reply = error_reply(wire::status_bank_error, "bank_error");
      reply.delay = decision.delay;
      return reply;
    }
    case Verdict::over_capacity: {
      Reply reply = error_reply(wire::status_over_capacity, "over_capacity");
      reply.retry_after = true;
      return reply;
    }
  }
  return error_reply(wire::status_bank_error, "bank_error");
}

}  // namespace

class BankSimServer::Impl {
 public:
  Impl(const channels::BanksConfig& config, const BankSimOptions& options, const Clock& clock)
      : options_(options), acceptor_(net::make_strand(io_)), banks_(channels::channel_id_max + 1) {
    for (const channels::ChannelConfig& channel : config.channels) {
      banks_[channel.id] = std::make_unique<SimulatedBank>(channel, config.seed, clock);
    }
  }

  Status start();
  void stop();
  std::uint16_t port() const { return port_; }
  SimulatedBank* bank(channels::ChannelId id) {
    return id < banks_.size() ? banks_[id].get() : nullptr;
  }

  class Session;

  Reply route(const http::request<http::string_body>& request, simdjson::dom::parser& json);
  std::atomic<std::size_t> sessions{0};
  const BankSimOptions options_;

 private:
  void accept();

  net::io_context io_;
  tcp::acceptor acceptor_;
  std::vector<std::unique_ptr<SimulatedBank>> banks_;  // indexed by channel id
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  bool started_ = false;
};

class BankSimServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Impl& server)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), server_(server) {
    ++server_.sessions;
  }
  ~Session() { --server_.sessions; }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(request_body_bytes_max);
    stream_.expires_after(server_.options_.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       if (error) return self->close();
                       self->handle();
                     });
  }

  void handle() {
    const auto& request = parser_->get();
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    Reply reply = server_.route(request, json_);
    if (reply.delay.count() <= 0) return write(std::move(reply));
    stream_.expires_never();  // the bank is thinking; the client's own timeout applies
    timer_.expires_after(reply.delay);
    timer_.async_wait(
        [self = shared_from_this(), reply = std::move(reply)](beast::error_code error) mutable {
          if (error) return self->close();
          self->write(std::move(reply));
        });
  }

  void write(Reply reply) {
    response_ = {};
    response_.version(version_);
    response_.result(reply.status);
    response_.set(http::field::server, "capillary-bank-sim");
    response_.set(http::field::content_type,
                  beast::string_view(reply.content_type.data(), reply.content_type.size()));
    if (reply.retry_after) response_.set(http::field::retry_after, "1");
    response_.body() = std::move(reply.body);
    response_.keep_alive(keep_alive_);
    response_.prepare_payload();
    stream_.expires_after(server_.options_.idle_timeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code error, std::size_t) {
                        if (error || !self->keep_alive_) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  simdjson::dom::parser json_;
  bool keep_alive_ = false;
  unsigned version_ = 11;
  Impl& server_;
};

namespace {

// "/banks/17/debit_card" -> 17 and "debit_card"; false when the target has another shape.
bool split_target(std::string_view target, channels::ChannelId* id, std::string_view* action) {
  if (!target.starts_with(wire::banks_prefix)) return false;
  target.remove_prefix(wire::banks_prefix.size());
  const std::size_t slash = target.find('/');
  if (slash == std::string_view::npos) return false;
  const auto [end, error] = std::from_chars(target.data(), target.data() + slash, *id);
  if (error != std::errc{} || end != target.data() + slash) return false;
  *action = target.substr(slash + 1);
  return true;
}

}  // namespace

Reply BankSimServer::Impl::route(const http::request<http::string_body>& request,
                                 simdjson::dom::parser& json) {
  const std::string_view target = to_std(request.target());
  if (target == "/healthz") return {wire::status_ok, "text/plain", "ok\n", {}, false};
  channels::ChannelId id = 0;
  std::string_view action;
  if (!split_target(target, &id, &action)) return error_reply(wire::status_not_found, "no_route");
  SimulatedBank* simulated = bank(id);
  if (simulated == nullptr) return error_reply(wire::status_not_found, "unknown_channel");
  if (action == wire::statement_suffix && request.method() == http::verb::get) {
    return {wire::status_ok, "text/csv", simulated->statement_csv(), {}, false};
  }
  if (action.starts_with(wire::operations_infix) && request.method() == http::verb::get) {
    const std::string_view reference = action.substr(wire::operations_infix.size());
    if (!wire::is_identifier(reference, channels::reference_bytes_max)) {
      return error_reply(wire::status_bad_request, "malformed_reference");
    }
    const std::optional<Decision> found = simulated->find(reference);
    if (!found) return error_reply(wire::status_not_found, wire::unknown_reference_error);
    return decision_reply(*found);
  }
  BankApi api;
  if (action == channels::name(BankApi::debit_card)) {
    api = BankApi::debit_card;
  } else if (action == channels::name(BankApi::credit_card)) {
    api = BankApi::credit_card;
  } else {
    return error_reply(wire::status_not_found, "no_route");
  }
  if (request.method() != http::verb::post) return error_reply(wire::status_not_found, "no_route");
  simdjson::dom::object call;
  std::string_view reference, card, bank_code;
  std::int64_t amount_fen = 0;
  if (json.parse(request.body()).get(call) != simdjson::SUCCESS ||
      call["reference"].get(reference) != simdjson::SUCCESS ||
      call["card"].get(card) != simdjson::SUCCESS ||
      call["bank_code"].get(bank_code) != simdjson::SUCCESS ||
      call["amount_fen"].get(amount_fen) != simdjson::SUCCESS || amount_fen <= 0 ||
      !wire::is_identifier(reference, channels::reference_bytes_max) ||
      !wire::is_identifier(card, channels::card_token_bytes_max) ||
      !wire::is_identifier(bank_code, channels::bank_code_bytes_max)) {
    return error_reply(wire::status_bad_request, "malformed_call");
  }
  bool refund = false;
  if (auto field = call["refund"];
      field.error() == simdjson::SUCCESS &&
      (field.get(refund) != simdjson::SUCCESS || (refund && api != BankApi::credit_card))) {
    return error_reply(wire::status_bad_request, "malformed_call");
  }
  return decision_reply(simulated->handle(api, reference, amount_fen, refund));
}

Status BankSimServer::Impl::start() {
  CAP_ASSERT(!started_);
  beast::error_code error;
  tcp::resolver resolver(io_);
  const auto endpoints = resolver.resolve(options_.host, std::to_string(options_.port), error);
  if (error || endpoints.empty()) {
    return Status::invalid_argument(
        fmt::format("cannot resolve {}: {}", options_.host, error.message()));
  }
  const tcp::endpoint endpoint = *endpoints.begin();
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.set_option(net::socket_base::reuse_address(true), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(net::socket_base::max_listen_connections, error);
  if (error) {
    return Status::io_error(
        fmt::format("cannot listen on {}:{}: {}", options_.host, options_.port, error.message()));
  }
  port_ = acceptor_.local_endpoint().port();
  started_ = true;
  net::dispatch(acceptor_.get_executor(), [this] { accept(); });
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    threads_.emplace_back([this] { io_.run(); });
  }
  return Status::ok();
}

// Past connections_max a new connection is closed at once: a client sees its bank refuse, as a
// real bank's front end would, instead of the simulator running out of descriptors.
void BankSimServer::Impl::accept() {
  acceptor_.async_accept(net::make_strand(io_),
                         [this](beast::error_code error, tcp::socket socket) {
                           if (error == net::error::operation_aborted || !acceptor_.is_open())
                             return;
                           if (!error && sessions.load() < connections_max) {
                             beast::error_code ignored;
                             socket.set_option(tcp::no_delay(true), ignored);
                             std::make_shared<Session>(std::move(socket), *this)->start();
                           }
                           accept();
                         });
}

void BankSimServer::Impl::stop() {
  if (!started_) return;
  started_ = false;
  net::dispatch(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  io_.stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

BankSimServer::BankSimServer(const channels::BanksConfig& config, const BankSimOptions& options,
                             const Clock& clock)
    : impl_(std::make_unique<Impl>(config, options, clock)) {}

BankSimServer::~BankSimServer() { impl_->stop(); }

Status BankSimServer::start() { return impl_->start(); }
void BankSimServer::stop() { impl_->stop(); }
std::uint16_t BankSimServer::port() const { return impl_->port(); }
SimulatedBank* BankSimServer::bank(channels::ChannelId channel_id) {
  return impl_->bank(channel_id);
}

}  // namespace capillary::banksim
