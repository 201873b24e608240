// HMAC-SHA256 against the test vectors of RFC 4231 §4, and the hex helpers.

#include "auth/hmac.h"

#include <gtest/gtest.h>

#include <array>
#include <cctype>
#include <string>
#include <vector>

namespace capillary::auth {
namespace {

std::vector<std::uint8_t> bytes_of_hex(std::string_view hex) {
  std::vector<std::uint8_t> bytes(hex.size() / 2);
  EXPECT_TRUE(from_hex(hex, bytes));
  return bytes;
}

struct Vector {
  std::string key_hex;
  std::string data;
  std::string mac_hex;
};

std::vector<Vector> rfc4231() {
  return {
      // Test case 1
      {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      // Test case 2: a key shorter than the output.
      {"4a656665", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      // Test case 3: 50 bytes of 0xdd.
      {std::string(40, 'a'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      // Test case 4
      {"0102030405060708090a0b0c0d0e0f10111213141516171819", std::string(50, '\xcd'),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      // Test case 6: a 131-byte key, hashed first.
      {std::string(262, 'a'), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      // Test case 7: a large key and large data.
      {std::string(262, 'a'),
       "This is a test using a larger than block-size key and a larger than block-size data. "
       "The key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
}

TEST(Hmac, Rfc4231Vectors) {
  for (const Vector& vector : rfc4231()) {
    const std::vector<std::uint8_t> key = bytes_of_hex(vector.key_hex);
    EXPECT_EQ(to_hex(HmacKey(key).mac(vector.data)), vector.mac_hex) << vector.data;
  }
}

TEST(Hmac, PartsAreConcatenated) {
  const HmacKey key(std::string_view("Jefe"));
  const std::array<std::string_view, 3> parts = {"what do ya ", "", "want for nothing?"};
  EXPECT_EQ(key.mac(parts), key.mac("what do ya want for nothing?"));
  EXPECT_NE(key.mac("what do ya want for nothing"), key.mac("what do ya want for nothing?"));
}

TEST(Hmac, KeyIsReusable) {
  const HmacKey key(std::string_view("Jefe"));
  const Digest first = key.mac("what do ya want for nothing?");
  key.mac("something else");
  EXPECT_EQ(key.mac("what do ya want for nothing?"), first);
}

TEST(Hex, RoundTripAndRejections) {
  const std::vector<std::uint8_t> bytes = {0x00, 0x7f, 0x80, 0xff, 0x0a};
  EXPECT_EQ(to_hex(bytes), "007f80ff0a");
  std::array<std::uint8_t, 5> decoded{};
  EXPECT_TRUE(from_hex("007F80fF0A", decoded));
  EXPECT_TRUE(std::equal(decoded.begin(), decoded.end(), bytes.begin()));
  EXPECT_FALSE(from_hex("007f80ff0", decoded));     // too short
  EXPECT_FALSE(from_hex("007f80ff0a00", decoded));  // too long
  EXPECT_FALSE(from_hex("007f80ff0g", decoded));    // not a digit
}

TEST(Hex, EveryByteInEveryPlace) {
  // Each of the 256 byte values as the high and as the low digit: decoded when it is one of
  // 0-9, a-f or A-F, rejected otherwise.
  const std::string digits = "0123456789abcdef";
  for (int c = 0; c < 256; ++c) {
    const char byte = static_cast<char>(c);
    const std::size_t lower = digits.find(static_cast<char>(std::tolower(c)));
    const bool valid = lower != std::string::npos;
    for (const bool high : {true, false}) {
      std::string hex = "5a";
      hex[high ? 0 : 1] = byte;
      std::array<std::uint8_t, 1> decoded{};
      ASSERT_EQ(from_hex(hex, decoded), valid) << c;
      if (valid) {
        EXPECT_EQ(decoded[0], high ? lower << 4 | 0xa : 0x50 | lower) << c;
      }
    }
  }
}

}  // namespace
}  // namespace capillary::auth
