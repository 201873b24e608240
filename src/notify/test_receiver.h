#pragma once
// For tests: a merchant's callback endpoint on a free local port. Answers each POST with the
// status its handler chooses, after checking the request's signature with the keyring, and keeps
// every request it saw. One connection at a time, as a small merchant server would.

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "auth/auth.h"

namespace capillary::notify {

struct Received {
  std::string target;
  std::string body;
  auth::Verification verification;
  std::uint64_t order_id = 0;
  std::uint64_t sequence = 0;
  unsigned status = 0;  // what the receiver answered
  std::chrono::steady_clock::time_point at;
};

// A JSON number field of a callback body, e.g. number_field(body, "sequence").
inline std::uint64_t number_field(const std::string& body, const std::string& field) {
  const std::size_t at = body.find("\"" + field + "\":");
  return at == std::string::npos ? 0 : std::stoull(body.substr(at + field.size() + 3));
}

class TestReceiver {
 public:
  // Decides the status of a request; called with the receiver's lock held, in arrival order.
  using Handler = std::function<unsigned(const Received&)>;

  TestReceiver(const auth::Keyring& keyring, Handler handler)
      : keyring_(keyring),
        handler_(std::move(handler)),
        acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { serve(); });
  }

  ~TestReceiver() {
    stopping_ = true;
    // Wakes the blocking accept.
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    boost::system::error_code ignored;
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port()}, ignored);
    thread_.join();
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string url(const std::string& target) const {
    return "http://127.0.0.1:" + std::to_string(port()) + target;
  }

  void set_handler(Handler handler) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
  }

  std::vector<Received> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  void serve() {
    namespace http = boost::beast::http;
    while (!stopping_) {
      boost::asio::ip::tcp::socket socket(io_);
      boost::system::error_code error;
      acceptor_.accept(socket, error);
      if (error || stopping_) continue;
      boost::beast::flat_buffer buffer;
      http::request<http::string_body> request;
      http::read(socket, buffer, request, error);
      if (error) continue;
      Received seen;
      seen.target = std::string(request.target());
      seen.body = request.body();
      const auto header = [&](std::string_view name) {
        const auto value = request[boost::beast::string_view(name.data(), name.size())];
        return std::string_view(value.data(), value.size());
      };
      const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
      seen.verification =
          keyring_.verify({"POST", seen.target, seen.body, header(auth::header_key),
                           header(auth::header_timestamp), header(auth::header_signature)},
                          now_s);
      seen.order_id = number_field(seen.body, "order_id");
      seen.sequence = number_field(seen.body, "sequence");
      seen.at = std::chrono::steady_clock::now();
      {
        std::lock_guard lock(mutex_);
        seen.status = handler_(seen);
        received_.push_back(seen);
      }
      http::response<http::string_body> response{static_cast<http::status>(seen.status), 11};
      response.body() = seen.status < 300 ? "success" : "try later";
      response.prepare_payload();
      http::write(socket, response, error);
      socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, error);
    }
  }

  const auth::Keyring& keyring_;
  mutable std::mutex mutex_;
  Handler handler_;
  std::vector<Received> received_;
  std::atomic<bool> stopping_{false};
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

}  // namespace capillary::notify
