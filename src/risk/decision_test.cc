#include "risk/decision.h"

#include <gtest/gtest.h>

#include <cstring>

#include "core/checksum.h"

namespace capillary::risk {
namespace {

Decision sample() {
  Decision d;
  d.event_id = 0x0102030405060708;
  d.user_id = 42;
  d.timestamp_ns = 1'767'225'600'123'456'789;
  d.rule_set_version = 7;
  d.shadow_rule_set_version = 8;
  d.action = Action::challenge;
  d.flags = Decision::flag_shadow_differs;
  d.shadow_action = Action::deny;
  d.rule_count = 2;
  d.shadow_rule_count = 1;
  d.rules = {3, 9, 11, 0};
  d.model_count = 3;
  d.models = {7, 2, 4, 0};
  d.model_points = {610, 120, 15, 0};
  d.risk_score = 745;
  return d;
}

TEST(Decision, RoundTripsThroughItsWireForm) {
  const Decision d = sample();
  std::array<std::uint8_t, decision_bytes> bytes{};
  encode(d, bytes);
  const std::optional<Decision> back = decode(bytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, d);
  EXPECT_EQ(bytes[32], static_cast<std::uint8_t>(Action::challenge)) << "the documented offset";
  EXPECT_EQ(bytes[0], 0x08) << "little-endian";
}

TEST(Decision, RejectsAnyFlippedBitAndOutOfRangeFields) {
  std::array<std::uint8_t, decision_bytes> bytes{};
  encode(sample(), bytes);
  for (std::size_t i = 0; i < decision_bytes; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto corrupt = bytes;
      corrupt[i] ^= static_cast<std::uint8_t>(1 << bit);
      ASSERT_FALSE(decode(corrupt).has_value()) << "byte " << i << " bit " << bit;
    }
  }
  Decision bad = sample();
  bad.action = Action::allow;
  bad.flags = Decision::flag_no_password;
  std::memcpy(bytes.data(), &bad, decision_bytes);  // a forged record with a valid check
  const std::uint32_t check = static_cast<std::uint32_t>(checksum(bytes.data(), 60));
  std::memcpy(bytes.data() + 60, &check, 4);
  EXPECT_TRUE(decode(bytes).has_value()) << "allow + no_password is valid";
  bad.action = Action::deny;
  std::memcpy(bytes.data(), &bad, decision_bytes);
  const std::uint32_t check2 = static_cast<std::uint32_t>(checksum(bytes.data(), 60));
  std::memcpy(bytes.data() + 60, &check2, 4);
  EXPECT_FALSE(decode(bytes).has_value()) << "deny + no_password is not";
}

}  // namespace
}  // namespace capillary::risk
