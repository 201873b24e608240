#include "auth/auth.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <array>
#include <charconv>

#include "auth/key_cache.h"
#include "core/assert.h"

namespace capillary::auth {
namespace {

// Longest timestamp accepted: Unix seconds stay 10 digits until the year 2286; anything longer is
// an attempt to make the parser work, not a clock.
constexpr std::size_t timestamp_digits_max = 12;
constexpr std::int64_t clock_s_max = 1'000'000'000'000;

bool parse_timestamp(std::string_view text, std::int64_t* seconds) {
  if (text.empty() || text.size() > timestamp_digits_max || text[0] == '-' || text[0] == '+') {
    return false;
  }
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *seconds);
  return error == std::errc{} && end == text.data() + text.size();
}

// The string a signature covers, as parts so that no buffer holds the body twice.
Digest request_mac(const HmacKey& key, std::string_view method, std::string_view path_and_query,
                   std::string_view timestamp, std::string_view body) {
  const std::array<std::string_view, 7> parts = {method, "\n", path_and_query, "\n", timestamp,
                                                 "\n",   body};
  return key.mac(parts);
}

std::string request_signature(const HmacKey& key, std::string_view method,
                              std::string_view path_and_query, std::int64_t timestamp_s,
                              std::string_view body) {
  const fmt::format_int timestamp(timestamp_s);
  return to_hex(
      request_mac(key, method, path_and_query, {timestamp.data(), timestamp.size()}, body));
}

}  // namespace

std::string_view name(VerifyResult result) {
  switch (result) {
    case VerifyResult::ok:
      return "ok";
    case VerifyResult::missing_header:
      return "missing_header";
    case VerifyResult::malformed:
      return "malformed";
    case VerifyResult::unknown_key:
      return "unknown_key";
    case VerifyResult::stale_timestamp:
      return "stale_timestamp";
    case VerifyResult::bad_signature:
      return "bad_signature";
  }
  CAP_ASSERT(false);
}

std::string_view describe(VerifyResult result) {
  switch (result) {
    case VerifyResult::ok:
      return "the request is signed by the key it names";
    case VerifyResult::missing_header:
      return "send X-Capillary-Key, X-Capillary-Timestamp and X-Capillary-Signature";
    case VerifyResult::malformed:
      return "X-Capillary-Key must be <kind>:<id>, X-Capillary-Timestamp Unix seconds, "
             "X-Capillary-Signature 64 hex digits";
    case VerifyResult::unknown_key:
      return "X-Capillary-Key names no platform, merchant, partner or user key";
    case VerifyResult::stale_timestamp:
      return "X-Capillary-Timestamp is more than 300 seconds from the server's clock";
    case VerifyResult::bad_signature:
      return "X-Capillary-Signature does not match the method, path, timestamp and body";
  }
  CAP_ASSERT(false);
}

std::string sign(const HmacKey& secret_key, std::string_view method,
                 std::string_view path_and_query, std::int64_t timestamp_s, std::string_view body) {
  return request_signature(secret_key, method, path_and_query, timestamp_s, body);
}

std::string sign(std::string_view secret, std::string_view method, std::string_view path_and_query,
                 std::int64_t timestamp_s, std::string_view body) {
  return request_signature(HmacKey(secret), method, path_and_query, timestamp_s, body);
}

Keyring::Keyring(const MasterKey& master_key)
    : master_(std::span<const std::uint8_t>(master_key)),
      cache_(std::make_unique<KeyCache>(key_cache_entries_max)) {}

Keyring::~Keyring() = default;

Status Keyring::open(const std::filesystem::path& data_dir, std::unique_ptr<Keyring>* out) {
  MasterKey master_key{};
  Status status = load_or_create_master_key(data_dir, &master_key);
  if (status.is_ok()) *out = std::make_unique<Keyring>(master_key);
  OPENSSL_cleanse(master_key.data(), master_key.size());
  return status;
}

std::string Keyring::secret(const Principal& principal) const {
  return to_hex(master_.mac(key_id(principal)));
}

std::shared_ptr<const HmacKey> Keyring::secret_key(const Principal& principal) const {
  return cache_->get(principal, [&] { return std::make_shared<const HmacKey>(secret(principal)); });
}

Verification Keyring::verify(const SignedRequest& request, std::int64_t now_s) const {
  if (request.key_id.empty() || request.timestamp.empty() || request.signature.empty()) {
    return {VerifyResult::missing_header, {}};
  }
  Principal principal;
  const KeyIdParse parsed = parse_key_id(request.key_id, &principal);
  std::int64_t timestamp_s = 0;
  Digest claimed{};
  if (parsed == KeyIdParse::malformed || !parse_timestamp(request.timestamp, &timestamp_s) ||
      !from_hex(request.signature, claimed)) {
    return {VerifyResult::malformed, {}};
  }
  if (parsed == KeyIdParse::unknown_kind) return {VerifyResult::unknown_key, {}};
  CAP_ASSERT(parsed == KeyIdParse::ok);
  // Both operands stay below 10^12 in magnitude, so neither difference can overflow.
  CAP_ASSERT(now_s >= 0 && now_s < clock_s_max);
  if (timestamp_s - now_s > timestamp_skew_s_max || now_s - timestamp_s > timestamp_skew_s_max) {
    return {VerifyResult::stale_timestamp, {}};
  }
  const Digest expected = request_mac(*secret_key(principal), request.method,
                                      request.path_and_query, request.timestamp, request.body);
  // Constant time, so the time taken tells an attacker nothing about how many bytes matched.
  if (CRYPTO_memcmp(expected.data(), claimed.data(), expected.size()) != 0) {
    return {VerifyResult::bad_signature, {}};
  }
  return {VerifyResult::ok, principal};
}

std::string Keyring::sign(const Principal& principal, std::string_view method,
                          std::string_view path_and_query, std::int64_t timestamp_s,
                          std::string_view body) const {
  return request_signature(*secret_key(principal), method, path_and_query, timestamp_s, body);
}

}  // namespace capillary::auth
