#include "notify/http_post.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>

namespace capillary::notify {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

beast::string_view to_beast(std::string_view text) { return {text.data(), text.size()}; }

// One exchange; owns itself through the shared pointers its pending handlers hold.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(net::io_context& io, HttpPost post, std::chrono::milliseconds timeout,
           std::function<void(unsigned)> done)
      : resolver_(io), stream_(io), timeout_(timeout), done_(std::move(done)) {
    request_.method(http::verb::post);
    request_.target(to_beast(post.url.target));
    request_.set(http::field::host, to_beast(post.url.host + ":" + post.url.port));
    request_.set(http::field::content_type, "application/json");
    request_.set(http::field::connection, "close");
    for (const auto& [name, value] : post.headers) request_.set(to_beast(name), to_beast(value));
    request_.body() = std::move(post.body);
    request_.prepare_payload();
    parser_.body_limit(response_bytes_max);
    url_ = std::move(post.url);
  }

  void start() {
    // One deadline for connect, write and read together. Name resolution is not cancelled by it
    // (the system resolver's own timeouts bound it), but counts against it.
    stream_.expires_after(timeout_);
    resolver_.async_resolve(
        url_.host, url_.port,
        [self = shared_from_this()](beast::error_code error, tcp::resolver::results_type results) {
          self->on_resolve(error, results);
        });
  }

 private:
  void on_resolve(beast::error_code error, const tcp::resolver::results_type& results) {
    if (error) return finish(0);
    stream_.async_connect(
        results, [self = shared_from_this()](beast::error_code error, const tcp::endpoint&) {
          self->on_connect(error);
        });
  }

  void on_connect(beast::error_code error) {
    if (error) return finish(0);
    http::async_write(stream_, request_,
                      [self = shared_from_this()](beast::error_code error, std::size_t) {
                        self->on_write(error);
                      });
  }

  void on_write(beast::error_code error) {
    if (error) return finish(0);
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code error, std::size_t) {
                       self->on_read(error);
                     });
  }

  void on_read(beast::error_code error) { finish(error ? 0 : parser_.get().result_int()); }

  void finish(unsigned status) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    done_(status);
  }

  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  std::chrono::milliseconds timeout_;
  std::function<void(unsigned)> done_;
  CallbackUrl url_;
  http::request<http::string_body> request_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
};

}  // namespace

void http_post(net::io_context& io, HttpPost post, std::chrono::milliseconds timeout,
               std::function<void(unsigned status)> done) {
  std::make_shared<Exchange>(io, std::move(post), timeout, std::move(done))->start();
}

}  // namespace capillary::notify
