#include "cli/http_client.h"

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <system_error>

namespace capillary::cli {
namespace {

constexpr std::size_t read_chunk_bytes = 64 << 10;
constexpr std::string_view header_end_marker = "\r\n\r\n";

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

template <typename Integer>
bool parse_decimal(std::string_view text, Integer* value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc{} && end == text.data() + text.size();
}

}  // namespace

bool parse_target(std::string_view text, Target* target) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) return false;
  const std::string_view port = text.substr(colon + 1);
  unsigned number = 0;
  if (!parse_decimal(port, &number) || number == 0 || number > 65535) return false;
  target->host = std::string(text.substr(0, colon));
  target->port = std::string(port);
  return true;
}

std::string errno_message(int error) {
  return std::error_code(error, std::generic_category()).message();
}

ParseResult parse_response(std::string_view bytes, HttpResponse* response, std::size_t* consumed,
                           std::string* error) {
  const std::size_t header_end = bytes.find(header_end_marker);
  if (header_end == std::string_view::npos) {
    if (bytes.size() <= response_header_bytes_max) return ParseResult::incomplete;
    *error = "response header too large";
    return ParseResult::malformed;
  }
  *response = HttpResponse{};
  std::string_view headers = bytes.substr(0, header_end);
  const std::size_t status_line_end = std::min(headers.find("\r\n"), headers.size());
  const std::string_view status_line = headers.substr(0, status_line_end);
  constexpr std::string_view version = "HTTP/1.1 ";
  if (!status_line.starts_with(version) || status_line.size() < version.size() + 3 ||
      !parse_decimal(status_line.substr(version.size(), 3), &response->status)) {
    *error = fmt::format("not an HTTP/1.1 status line: {:.80}", status_line);
    return ParseResult::malformed;
  }
  std::size_t content_length = 0;
  bool has_content_length = false;
  headers.remove_prefix(std::min(headers.size(), status_line_end + 2));
  while (!headers.empty()) {
    const std::size_t line_end = std::min(headers.find("\r\n"), headers.size());
    const std::string_view line = headers.substr(0, line_end);
    headers.remove_prefix(std::min(headers.size(), line_end + 2));
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (equals_ignoring_case(name, "content-length")) {
      has_content_length = parse_decimal(value, &content_length);
    } else if (equals_ignoring_case(name, "retry-after")) {
      std::uint32_t seconds = 0;
      if (parse_decimal(value, &seconds)) response->retry_after = std::chrono::seconds(seconds);
    } else if (equals_ignoring_case(name, "connection")) {
      response->close = equals_ignoring_case(value, "close");
    } else if (equals_ignoring_case(name, "transfer-encoding")) {
      *error = "the server sent a Transfer-Encoding body; expected Content-Length";
      return ParseResult::malformed;
    }
  }
  if (!has_content_length) {
    *error = "response without Content-Length";
    return ParseResult::malformed;
  }
  if (content_length > response_body_bytes_max) {
    *error = fmt::format("response body of {} bytes", content_length);
    return ParseResult::malformed;
  }
  const std::size_t body_start = header_end + header_end_marker.size();
  if (bytes.size() < body_start + content_length) return ParseResult::incomplete;
  response->body.assign(bytes.substr(body_start, content_length));
  *consumed = body_start + content_length;
  return ParseResult::complete;
}

Status connect_socket(const Target& target, int* fd) {
  *fd = -1;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  if (int rc = getaddrinfo(target.host.c_str(), target.port.c_str(), &hints, &addresses); rc != 0) {
    return Status::io_error(fmt::format("cannot resolve {}: {}", target.host, gai_strerror(rc)));
  }
  int last_error = 0;
  for (const addrinfo* address = addresses; address != nullptr; address = address->ai_next) {
    const int socket = ::socket(address->ai_family, address->ai_socktype, address->ai_protocol);
    if (socket < 0) {
      last_error = errno;
      continue;
    }
    if (::connect(socket, address->ai_addr, address->ai_addrlen) == 0) {
      *fd = socket;
      break;
    }
    last_error = errno;
    ::close(socket);
  }
  freeaddrinfo(addresses);
  if (*fd < 0) {
    return Status::io_error(fmt::format("cannot connect to {}:{}: {}", target.host, target.port,
                                        errno_message(last_error)));
  }
  const int one = 1;
  ::setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return Status::ok();
}

std::string format_request(const Target& target, std::string_view method, std::string_view path,
                           std::string_view extra_headers, std::string_view body) {
  return fmt::format(
      "{} {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\n{}"
      "Content-Length: {}\r\n\r\n{}",
      method, path, target.host, target.port, extra_headers, body.size(), body);
}

Status HttpConnection::connect() {
  disconnect();
  if (Status status = connect_socket(target_, &fd_); !status.is_ok()) return status;
  const timeval timeout{.tv_sec = static_cast<time_t>(response_timeout.count()), .tv_usec = 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  return Status::ok();
}

Status HttpConnection::round_trip(std::string_view request, HttpResponse* response) {
  const bool reused = fd_ >= 0;
  Status status = attempt(request, response);
  if (!status.is_ok() && reused) status = attempt(request, response);
  if (!status.is_ok()) disconnect();
  return status;
}

void HttpConnection::disconnect() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

Status HttpConnection::attempt(std::string_view request, HttpResponse* response) {
  if (fd_ < 0) {
    if (Status status = connect(); !status.is_ok()) return status;
  }
  if (Status status = send_all(request); !status.is_ok()) {
    disconnect();
    return status;
  }
  if (Status status = read_response(response); !status.is_ok()) {
    disconnect();
    return status;
  }
  if (response->close) disconnect();
  return Status::ok();
}

Status HttpConnection::send_all(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return Status::io_error(
          fmt::format("sending to {}:{}: {}", target_.host, target_.port, errno_message(errno)));
    }
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
  return Status::ok();
}

Status HttpConnection::read_more() {
  const std::size_t used = buffer_.size();
  buffer_.resize(used + read_chunk_bytes);
  ssize_t received;
  do {
    received = ::recv(fd_, buffer_.data() + used, read_chunk_bytes, 0);
  } while (received < 0 && errno == EINTR);
  const int error = errno;
  buffer_.resize(used + static_cast<std::size_t>(std::max<ssize_t>(received, 0)));
  if (received == 0) return Status::io_error("the server closed the connection");
  if (received < 0) {
    return Status::io_error(error == EAGAIN || error == EWOULDBLOCK
                                ? fmt::format("no response within {} s", response_timeout.count())
                                : fmt::format("reading a response: {}", errno_message(error)));
  }
  return Status::ok();
}

Status HttpConnection::read_response(HttpResponse* response) {
  for (;;) {
    std::size_t consumed = 0;
    std::string error;
    switch (parse_response(buffer_, response, &consumed, &error)) {
      case ParseResult::complete:
        buffer_.erase(0, consumed);
        return Status::ok();
      case ParseResult::malformed:
        return Status::corruption(error);
      case ParseResult::incomplete:
        if (Status status = read_more(); !status.is_ok()) return status;
    }
  }
}

}  // namespace capillary::cli
