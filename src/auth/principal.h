#pragma once
// Who signs a request: the platform itself, a merchant, a partner institution (bank, fund
// company, insurer, lender) or a user. A principal's key id names it in the X-Capillary-Key header:
// "<kind>:<id>", e.g. "merchant:42"; the platform is always "platform:0".

#include <cstdint>
#include <string>
#include <string_view>

namespace capillary::auth {

enum class PrincipalKind : std::uint8_t { platform, merchant, partner, user };

struct Principal {
  PrincipalKind kind = PrincipalKind::platform;
  std::uint64_t id = 0;  // 0 for the platform, >= 1 for every other kind
  bool operator==(const Principal&) const = default;
};

inline constexpr Principal platform_principal{PrincipalKind::platform, 0};

std::string_view name(PrincipalKind kind);
std::string key_id(const Principal& principal);

enum class KeyIdParse : std::uint8_t { ok, malformed, unknown_kind };

// Parses "<kind>:<id>" with the id in canonical decimal (no sign, no leading zero). A well-formed
// key id of a kind that does not exist, or a platform id other than 0, is `unknown_kind`.
KeyIdParse parse_key_id(std::string_view text, Principal* out);

}  // namespace capillary::auth
