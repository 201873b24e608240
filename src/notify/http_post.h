#pragma once
// One HTTP/1.1 POST to a merchant, asynchronously, on a new connection closed afterwards. The
// only translation unit of the notifier that includes Beast.

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "notify/callback_url.h"

namespace boost::asio {
class io_context;
}

namespace capillary::notify {

// Bytes of a merchant's response read at most: the notifier needs only its status line.
inline constexpr std::size_t response_bytes_max = 16 * 1024;

struct HttpPost {
  CallbackUrl url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Calls `done` on `io`'s thread with the response's status code, or 0 when none came back within
// `timeout` from the start or the exchange failed.
void http_post(boost::asio::io_context& io, HttpPost post, std::chrono::milliseconds timeout,
               std::function<void(unsigned status)> done);

}  // namespace capillary::notify
