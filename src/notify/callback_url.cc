#include "notify/callback_url.h"

#include <charconv>

namespace capillary::notify {
namespace {

constexpr std::string_view scheme = "http://";
constexpr std::string_view default_port = "80";

bool valid_port(std::string_view port) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  return error == std::errc{} && end == port.data() + port.size() && value >= 1 && value <= 65535;
}

bool printable(std::string_view text) {
  for (const char c : text) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

}  // namespace

std::optional<CallbackUrl> parse_callback_url(std::string_view url) {
  if (url.size() > callback_url_bytes_max || !url.starts_with(scheme) || !printable(url) ||
      url.find('#') != std::string_view::npos) {
    return std::nullopt;
  }
  url.remove_prefix(scheme.size());
  const std::size_t slash = url.find_first_of("/?");
  const std::string_view authority = url.substr(0, slash);
  // A query straight after the authority is the root's: "http://h?a=1" targets "/?a=1".
  std::string target = "/";
  if (slash != std::string_view::npos) target.append(url.substr(slash + (url[slash] == '/')));
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  const std::size_t colon = authority.rfind(':');
  CallbackUrl parsed{
      std::string(authority.substr(0, colon)),
      std::string(colon == std::string_view::npos ? default_port : authority.substr(colon + 1)),
      std::move(target)};
  if (parsed.host.empty() || !valid_port(parsed.port)) return std::nullopt;
  return parsed;
}

}  // namespace capillary::notify
