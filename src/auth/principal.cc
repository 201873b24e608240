#include "auth/principal.h"

#include <fmt/format.h>

#include <array>
#include <charconv>

namespace capillary::auth {
namespace {

constexpr std::array<std::string_view, 4> kind_names = {"platform", "merchant", "partner", "user"};

// Canonical decimal so that one principal has exactly one key id, hence one secret.
bool parse_id(std::string_view text, std::uint64_t* id) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *id);
  return error == std::errc{} && end == text.data() + text.size();
}

}  // namespace

std::string_view name(PrincipalKind kind) { return kind_names[static_cast<std::size_t>(kind)]; }

std::string key_id(const Principal& principal) {
  return fmt::format("{}:{}", name(principal.kind), principal.id);
}

KeyIdParse parse_key_id(std::string_view text, Principal* out) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return KeyIdParse::malformed;
  std::uint64_t id = 0;
  if (!parse_id(text.substr(colon + 1), &id)) return KeyIdParse::malformed;
  const std::string_view kind = text.substr(0, colon);
  for (std::size_t i = 0; i < kind_names.size(); ++i) {
    if (kind != kind_names[i]) continue;
    const Principal principal{static_cast<PrincipalKind>(i), id};
    const bool platform = principal.kind == PrincipalKind::platform;
    if (platform != (id == 0)) return KeyIdParse::unknown_kind;
    *out = principal;
    return KeyIdParse::ok;
  }
  return KeyIdParse::unknown_kind;
}

}  // namespace capillary::auth
