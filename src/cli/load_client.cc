#include "cli/load_client.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "auth/auth.h"
#include "auth/principal.h"
#include "core/assert.h"

namespace capillary::cli::load {
namespace {

constexpr std::size_t read_chunk_bytes = 64 << 10;
// Events taken per epoll_wait: one per connection at most matters.
constexpr std::size_t events_per_wait = 64;

}  // namespace

std::string Signer::request(const Target& target, std::string_view method, std::string_view path,
                            std::string_view body, std::string_view idempotency_key) const {
  const std::int64_t now_s = std::time(nullptr);
  const std::string signature = auth::sign(key_, method, path, now_s, body);
  std::string headers = fmt::format("{}: {}\r\n{}: {}\r\n{}: {}\r\n", auth::header_key,
                                    auth::key_id(auth::platform_principal), auth::header_timestamp,
                                    now_s, auth::header_signature, signature);
  if (!idempotency_key.empty()) headers += fmt::format("Idempotency-Key: {}\r\n", idempotency_key);
  return format_request(target, method, path, headers, body);
}

Client::Client(Target target, std::uint32_t connections, std::uint32_t depth)
    : target_(std::move(target)), depth_(depth), connections_(connections),
      read_buffer_(new char[read_chunk_bytes]),
      events_(events_per_wait) {
  CAP_ASSERT(connections > 0 && depth > 0);
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  CAP_ASSERT(epoll_fd_ >= 0);
}

Client::~Client() {
  for (Connection& connection : connections_) {
    if (connection.fd >= 0) ::close(connection.fd);
  }
  ::close(epoll_fd_);
}

Status Client::connect() {
  for (Connection& connection : connections_) {
    if (Status status = open(connection); !status.is_ok()) return status;
  }
  return Status::ok();
}

Status Client::open(Connection& connection) {
  CAP_ASSERT(connection.fd < 0 && connection.tags.empty());
  int fd = -1;
  if (Status status = connect_socket(target_, &fd); !status.is_ok()) return status;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u32 = static_cast<std::uint32_t>(&connection - connections_.data());
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    ::close(fd);
    return Status::io_error(fmt::format("epoll_ctl: {}", errno_message(errno)));
  }
  connection.fd = fd;
  connection.out.clear();
  connection.out_offset = 0;
  connection.in.clear();
  connection.watching_out = false;
  return Status::ok();
}

void Client::submit(std::uint64_t tag, std::string request) {
  backlog_.emplace_back(tag, std::move(request));
  // Requests already waiting mean every connection is full: the next answer makes room.
  if (backlog_.size() > 1) return;
  const std::size_t count = connections_.size();
  for (std::size_t i = 0; i < count && !backlog_.empty(); ++i) {
    fill(connections_[(next_connection_ + i) % count]);
  }
  next_connection_ = (next_connection_ + 1) % count;
}

// Moves requests from the backlog onto `connection` while it has room; they are written by the
// next write(), so several go out in one send.
void Client::fill(Connection& connection) {
  if (connection.fd < 0 && !open(connection).is_ok()) return;
  if (connection.out.empty() && !backlog_.empty() && connection.tags.size() < depth_) {
    unwritten_.push_back(static_cast<std::uint32_t>(&connection - connections_.data()));
  }
  while (!backlog_.empty() && connection.tags.size() < depth_) {
    auto& [tag, request] = backlog_.front();
    connection.out += request;
    connection.tags.push_back(tag);
    ++in_flight_;
    backlog_.pop_front();
  }
}

void Client::watch(Connection& connection, bool out) {
  if (connection.watching_out == out) return;
  epoll_event event{};
  event.events = EPOLLIN | (out ? EPOLLOUT : 0u);
  event.data.u32 = static_cast<std::uint32_t>(&connection - connections_.data());
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, connection.fd, &event);
  connection.watching_out = out;
}

void Client::write(Connection& connection, AnswerHandler& handler) {
  while (connection.fd >= 0 && connection.out_offset < connection.out.size()) {
    const ssize_t sent = ::send(connection.fd, connection.out.data() + connection.out_offset,
                                connection.out.size() - connection.out_offset, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return watch(connection, true);
      return fail(connection, fmt::format("sending: {}", errno_message(errno)), handler);
    }
    connection.out_offset += static_cast<std::size_t>(sent);
  }
  if (connection.fd < 0) return;
  connection.out.clear();
  connection.out_offset = 0;
  watch(connection, false);
}

void Client::read(Connection& connection, AnswerHandler& handler) {
  for (;;) {
    const ssize_t received = ::recv(connection.fd, read_buffer_.get(), read_chunk_bytes, 0);
    const int error = errno;
    if (received > 0) {
      connection.in.append(read_buffer_.get(), static_cast<std::size_t>(received));
      // A short read emptied the socket: skip the recv that would only say EAGAIN.
      if (static_cast<std::size_t>(received) < read_chunk_bytes) break;
      continue;
    }
    if (received == 0) return fail(connection, "the server closed the connection", handler);
    if (error == EINTR) continue;
    if (error == EAGAIN || error == EWOULDBLOCK) break;
    return fail(connection, fmt::format("reading: {}", errno_message(error)), handler);
  }
  std::size_t parsed = 0;
  HttpResponse response;
  for (;;) {
    std::size_t consumed = 0;
    std::string error;
    const ParseResult result = parse_response(std::string_view(connection.in).substr(parsed),
                                              &response, &consumed, &error);
    if (result == ParseResult::incomplete) break;
    if (result == ParseResult::malformed) return fail(connection, error, handler);
    if (connection.tags.empty()) return fail(connection, "an answer nobody asked for", handler);
    parsed += consumed;
    const std::uint64_t tag = connection.tags.front();
    connection.tags.pop_front();
    --in_flight_;
    handler.on_response(tag, response);
    if (response.close) {
      return fail(connection, "the server closed the connection after an answer", handler);
    }
  }
  connection.in.erase(0, parsed);
  if (!backlog_.empty()) fill(connection);
}

// Every request still on the connection fails; the connection reopens on its next use.
void Client::fail(Connection& connection, std::string_view why, AnswerHandler& handler) {
  ::close(connection.fd);  // also removes it from the epoll set
  connection.fd = -1;
  connection.out.clear();
  connection.out_offset = 0;
  connection.in.clear();
  std::deque<std::uint64_t> tags;
  tags.swap(connection.tags);
  in_flight_ -= tags.size();
  for (std::uint64_t tag : tags) handler.on_failure(tag, why);
}

std::vector<std::uint64_t> Client::drop_backlog() {
  std::vector<std::uint64_t> tags;
  tags.reserve(backlog_.size());
  for (const auto& [tag, request] : backlog_) tags.push_back(tag);
  backlog_.clear();
  return tags;
}

void Client::poll(Clock::time_point deadline, AnswerHandler& handler) {
  // Connections reopened after a failure take their share of the backlog here.
  if (!backlog_.empty()) {
    for (Connection& connection : connections_) {
      if (connection.fd < 0) fill(connection);
    }
  }
  writing_.swap(unwritten_);
  for (const std::uint32_t index : writing_) write(connections_[index], handler);
  writing_.clear();
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  const int ready = ::epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()),
                                 static_cast<int>(std::max<std::int64_t>(wait.count(), 0)));
  for (int i = 0; i < ready; ++i) {
    Connection& connection = connections_[events_[static_cast<std::size_t>(i)].data.u32];
    const std::uint32_t flags = events_[static_cast<std::size_t>(i)].events;
    if (connection.fd >= 0 && (flags & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
      read(connection, handler);
    }
    if (connection.fd >= 0 && (flags & EPOLLOUT) != 0) write(connection, handler);
  }
}

}  // namespace capillary::cli::load
