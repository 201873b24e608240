#include "risk/decision.h"

#include <cstddef>
#include <cstring>

#include "core/assert.h"
#include "core/checksum.h"
#include "risk/models.h"

namespace capillary::risk {
namespace {

constexpr std::size_t checked_bytes = offsetof(Decision, check);
static_assert(checked_bytes == 60);
static_assert(offsetof(Decision, action) == 32 && offsetof(Decision, risk_score) == 38 &&
              offsetof(Decision, rules) == 40 && offsetof(Decision, models) == 48 &&
              offsetof(Decision, model_points) == 52);

std::uint32_t check_of(const std::uint8_t* bytes) {
  return static_cast<std::uint32_t>(checksum(bytes, checked_bytes));
}

bool valid(const Decision& d) {
  return static_cast<std::uint8_t>(d.action) < action_count &&
         static_cast<std::uint8_t>(d.shadow_action) < action_count &&
         d.flags < (Decision::flag_no_password | Decision::flag_shadow_differs) * 2 &&
         d.rule_count + d.shadow_rule_count <= decision_rules_max &&
         d.model_count <= decision_models_max && d.risk_score <= model_points_max &&
         d.rule_set_version > 0 && (!d.no_password() || d.action == Action::allow);
}

}  // namespace

void encode(const Decision& decision, std::span<std::uint8_t, decision_bytes> out) {
  CAP_ASSERT(valid(decision));
  std::memcpy(out.data(), &decision, decision_bytes);
  const std::uint32_t check = check_of(out.data());
  std::memcpy(out.data() + checked_bytes, &check, sizeof check);
}

std::optional<Decision> decode(std::span<const std::uint8_t, decision_bytes> bytes) {
  Decision decision;
  std::memcpy(&decision, bytes.data(), decision_bytes);
  if (decision.check != check_of(bytes.data()) || !valid(decision)) return std::nullopt;
  decision.check = 0;
  return decision;
}

}  // namespace capillary::risk
