#pragma once
// A risk decision in its compact form: a fixed-size record that payment commands embed in the
// journal, so replay reads the decision instead of deciding again. Reasons are indexes into the
// rule set of `rule_set_version` and into the model table (models.h); Engine::explain turns them
// into names.
//
// Wire layout, 64 bytes, little-endian, no padding:
//   0  u64 event_id            8  u64 user_id             16 u64 timestamp_ns
//   24 u32 rule_set_version    28 u32 shadow_rule_set_version (0: no shadow rule set)
//   32 u8  action              33 u8  flags (bit 0 no_password, bit 1 shadow_differs)
//   34 u8  shadow_action       35 u8  rule_count          36 u8 shadow_rule_count
//   37 u8  model_count         38 u16 risk_score (0..1000)
//   40 u16 rules[4]: rule_count enforced matches, then shadow_rule_count shadow matches
//   48 u8  models[4]           52 u16 model_points[4]: the largest contributions, largest first
//   60 u32 check: the low 32 bits of XXH3 over bytes 0..59

#include <array>
#include <bit>
#include <cstdint>
#include <optional>
#include <span>

#include "risk/limits.h"
#include "risk/rules.h"

namespace capillary::risk {

struct Decision {
  static constexpr std::uint8_t flag_no_password = 1;
  static constexpr std::uint8_t flag_shadow_differs = 2;

  std::uint64_t event_id = 0;
  std::uint64_t user_id = 0;
  std::uint64_t timestamp_ns = 0;
  std::uint32_t rule_set_version = 0;
  std::uint32_t shadow_rule_set_version = 0;
  Action action = Action::allow;
  std::uint8_t flags = 0;
  // What the shadow rule set (or, without one, the active set with its shadow rules enforced)
  // would have decided. Logged, never enforced.
  Action shadow_action = Action::allow;
  std::uint8_t rule_count = 0;
  std::uint8_t shadow_rule_count = 0;
  std::uint8_t model_count = 0;
  std::uint16_t risk_score = 0;
  std::array<std::uint16_t, decision_rules_max> rules{};
  std::array<std::uint8_t, decision_models_max> models{};
  std::array<std::uint16_t, decision_models_max> model_points{};
  std::uint32_t check = 0;  // on the wire only: 0 in memory

  bool no_password() const { return flags & flag_no_password; }
  bool shadow_differs() const { return flags & flag_shadow_differs; }
  bool operator==(const Decision&) const = default;
};

inline constexpr std::size_t decision_bytes = 64;
static_assert(sizeof(Decision) == decision_bytes, "the wire layout above, without padding");
static_assert(std::endian::native == std::endian::little, "the record is copied as is");
static_assert(decision_rules_max == 4 && decision_models_max == 4, "the layout above");

// Writes the record with its check into `out`.
void encode(const Decision& decision, std::span<std::uint8_t, decision_bytes> out);
// Reads a record back; nullopt when the check fails or a field is out of range.
std::optional<Decision> decode(std::span<const std::uint8_t, decision_bytes> bytes);

}  // namespace capillary::risk
