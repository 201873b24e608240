#pragma once
// HMAC-SHA256 (RFC 2104) with the key schedule computed once per key. An HMAC over a short
// message costs four SHA-256 compressions, two of which only absorb the padded key; a server that
// verifies every request keeps one HmacKey per tenant and pays for the other two alone.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace capillary::auth {

inline constexpr std::size_t sha256_bytes = 32;
// SHA-256 block size: keys longer than this are hashed first (RFC 2104 §2).
inline constexpr std::size_t sha256_block_bytes = 64;

using Digest = std::array<std::uint8_t, sha256_bytes>;

class HmacKey {
 public:
  explicit HmacKey(std::span<const std::uint8_t> key);
  explicit HmacKey(std::string_view key);
  ~HmacKey();
  HmacKey(const HmacKey&) = delete;
  HmacKey& operator=(const HmacKey&) = delete;

  // The MAC of the concatenation of `parts`, so callers need not build the message in one buffer.
  // Safe to call from many threads at once: the key's state is only read.
  Digest mac(std::span<const std::string_view> parts) const;
  Digest mac(std::string_view message) const { return mac(std::span{&message, 1}); }

 private:
  // SHA-256 states after absorbing key XOR ipad and key XOR opad.
  EVP_MD_CTX* inner_;
  EVP_MD_CTX* outer_;
};

// Lowercase hexadecimal.
std::string to_hex(std::span<const std::uint8_t> bytes);
// Decodes exactly out.size() bytes from 2 * out.size() hex digits of either case; false otherwise.
bool from_hex(std::string_view hex, std::span<std::uint8_t> out);

}  // namespace capillary::auth
