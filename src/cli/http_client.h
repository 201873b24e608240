#pragma once
// The small HTTP/1.1 client the load tools use against `capillary serve`: a target parser, a
// response parser that works on whatever bytes have arrived (so an event loop can feed it from a
// non-blocking socket, several pipelined responses at once), and a blocking keep-alive connection
// built on it. Only what the server sends is understood: Content-Length bodies, no chunking.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"

namespace capillary::cli {

// Bounds the response reader: real headers are a few hundred bytes, and a full batch of rejected
// results with their descriptions is under 2 MiB.
inline constexpr std::size_t response_header_bytes_max = 64 << 10;
inline constexpr std::size_t response_body_bytes_max = 16 << 20;
// The server drops a connection idle for 60 s, so an answer that takes longer is not coming.
inline constexpr std::chrono::seconds response_timeout{60};

struct Target {
  std::string host;
  std::string port;
};

// "HOST:PORT" with a port in 1..65535; false otherwise.
bool parse_target(std::string_view text, Target* target);

std::string errno_message(int error);

struct HttpResponse {
  int status = 0;
  std::chrono::seconds retry_after{0};
  bool close = false;  // the server will close the connection after this response
  std::string body;
};

enum class ParseResult { complete, incomplete, malformed };

// Parses the response at the front of `bytes`. On `complete`, fills `response` and sets
// `consumed` to its length in bytes; on `incomplete`, more bytes are needed; on `malformed`,
// `error` says why and the connection cannot be used further.
ParseResult parse_response(std::string_view bytes, HttpResponse* response, std::size_t* consumed,
                           std::string* error);

// A connected TCP socket to `target` with Nagle off (requests go out in one write each; Nagle
// would hold the tail of a body back for an ACK). Blocking; the caller owns and closes `fd`.
Status connect_socket(const Target& target, int* fd);

// "METHOD PATH HTTP/1.1" with Host, the given extra header lines (each ending in "\r\n"), and the
// body with its Content-Length.
std::string format_request(const Target& target, std::string_view method, std::string_view path,
                           std::string_view extra_headers, std::string_view body);

// One keep-alive HTTP/1.1 connection over a blocking socket, one request in flight.
class HttpConnection {
 public:
  explicit HttpConnection(Target target) : target_(std::move(target)) {}
  ~HttpConnection() { disconnect(); }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  Status connect();

  // Sends one complete request and reads its response, connecting first if need be. A kept-alive
  // connection the server closed while idle fails on first use, so a request on a reused
  // connection is sent once more on a new one: callers send only requests that are safe to repeat
  // (idempotent by their ids or keys).
  Status round_trip(std::string_view request, HttpResponse* response);

 private:
  void disconnect();
  Status attempt(std::string_view request, HttpResponse* response);
  Status send_all(std::string_view bytes);
  Status read_more();
  Status read_response(HttpResponse* response);

  Target target_;
  int fd_ = -1;
  std::string buffer_;  // bytes received and not yet consumed
};

}  // namespace capillary::cli
