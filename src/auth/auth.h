#pragma once
// Request signing and tenant credentials: the contract between a client and the server.
//
// Credentials. Every principal (principal.h) has a key id, "<kind>:<id>", and a secret:
//   secret = lowercase hex of HMAC-SHA256(master key, key id)            (64 characters)
// Secrets are derived, never stored: the master key (master_key.h) is the only thing to guard.
//
// Signature. A client sends three headers with every request:
//   X-Capillary-Key:       the key id, e.g. "merchant:42"
//   X-Capillary-Timestamp: Unix seconds, decimal
//   X-Capillary-Signature: lowercase hex of HMAC-SHA256(secret, method "\n" path_and_query "\n"
//                                                        timestamp "\n" body)
// where the HMAC key is the 64 ASCII characters of the secret, `method` is as sent ("POST"),
// `path_and_query` is the request target as sent ("/v1/orders?limit=10") and `body` the raw bytes.
// The server accepts a timestamp at most timestamp_skew_s_max seconds away from its clock; a
// replay inside that window is what idempotency keys are for.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "auth/hmac.h"
#include "auth/master_key.h"
#include "auth/principal.h"
#include "core/status.h"

namespace capillary::auth {

inline constexpr std::string_view header_key = "X-Capillary-Key";
inline constexpr std::string_view header_timestamp = "X-Capillary-Timestamp";
inline constexpr std::string_view header_signature = "X-Capillary-Signature";

// How far a request's timestamp may be from the server's clock, either way. Five minutes absorbs
// clock drift on merchants' servers and slow networks, and bounds how long a captured request
// stays replayable.
inline constexpr std::int64_t timestamp_skew_s_max = 300;

// Secrets whose HMAC key schedule the server keeps precomputed. Each costs ~1 KiB (two OpenSSL
// digest contexts), so the cache stays under 16 MiB; past it, an arbitrary entry is dropped and
// rebuilt on its next use for two extra HMACs, which is correct, only slower.
inline constexpr std::size_t key_cache_entries_max = 16384;

// Why a request was refused, in order of precedence: the first that applies is reported.
enum class VerifyResult : std::uint8_t {
  ok,
  missing_header,   // one of the three headers is absent or empty
  malformed,        // key id, timestamp or signature not in the format above
  unknown_key,      // a well-formed key id naming no kind of principal
  stale_timestamp,  // more than timestamp_skew_s_max seconds from the server's clock
  bad_signature,    // the signature does not match the request
};

std::string_view name(VerifyResult result);
// One sentence for an error body, naming what the client should fix.
std::string_view describe(VerifyResult result);

// A request as the server received it; the three header values are empty when absent.
struct SignedRequest {
  std::string_view method;
  std::string_view path_and_query;
  std::string_view body;
  std::string_view key_id;
  std::string_view timestamp;
  std::string_view signature;
};

struct Verification {
  VerifyResult result = VerifyResult::missing_header;
  Principal principal;  // meaningful only when result == ok
};

// The X-Capillary-Signature value, for a client holding its secret. With an HmacKey built once
// from the secret, a client signing many requests skips the key schedule each time.
std::string sign(const HmacKey& secret_key, std::string_view method,
                 std::string_view path_and_query, std::int64_t timestamp_s, std::string_view body);
std::string sign(std::string_view secret, std::string_view method, std::string_view path_and_query,
                 std::int64_t timestamp_s, std::string_view body);

class KeyCache;

// The server's side: derives secrets from the master key and verifies requests. Thread-safe.
class Keyring {
 public:
  explicit Keyring(const MasterKey& master_key);
  ~Keyring();
  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;

  // Loads or creates `data_dir`/master.key (master_key.h) and builds a keyring on it.
  static Status open(const std::filesystem::path& data_dir, std::unique_ptr<Keyring>* out);

  // The principal's secret, to hand to its owner once (e.g. at merchant onboarding).
  std::string secret(const Principal& principal) const;

  // Checks the three headers against the request; `now_s` is the server's clock in Unix seconds.
  Verification verify(const SignedRequest& request, std::int64_t now_s) const;

  // Signs as `principal` would: for the platform's own calls to a tenant (merchant notifications).
  std::string sign(const Principal& principal, std::string_view method,
                   std::string_view path_and_query, std::int64_t timestamp_s,
                   std::string_view body) const;

 private:
  std::shared_ptr<const HmacKey> secret_key(const Principal& principal) const;

  HmacKey master_;
  std::unique_ptr<KeyCache> cache_;
};

}  // namespace capillary::auth
