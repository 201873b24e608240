#pragma once
// A merchant's callback URL: http://host[:port][/path[?query]]. Plain HTTP only for now: TLS to
// merchants would go through Beast's SSL stream, which this module does not link yet.

#include <optional>
#include <string>
#include <string_view>

namespace capillary::notify {

// Longest callback URL accepted: what browsers and proxies reliably handle.
inline constexpr std::size_t callback_url_bytes_max = 2048;

struct CallbackUrl {
  std::string host;
  std::string port;    // "80" when the URL names none
  std::string target;  // path and query, "/" when the URL names none; what the signature covers
};

// Empty on anything else, including an https URL, a user:password@ part or a fragment.
std::optional<CallbackUrl> parse_callback_url(std::string_view url);

}  // namespace capillary::notify
