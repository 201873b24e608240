#pragma once
// The rule language: a text file of rules over named features, compiled on load into an immutable
// RuleSet. Grammar and an example: docs/risk.md.
//
//   rule card_testing
//     priority 90
//     when device_users_1h >= 4 and amount <= 10.00
//     then deny "one device paying for many accounts"
//   end
//
// Compiling checks everything a reviewer would: syntax, unknown features, types (money against
// money only), duplicate names, limits; each problem is reported with its line and column and
// nothing is compiled unless the whole file is clean.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "risk/features.h"
#include "risk/limits.h"

namespace capillary::risk {

// Ordered by strictness: a later action is stricter.
enum class Action : std::uint8_t { allow, challenge, deny };
inline constexpr std::uint8_t action_count = 3;
std::string_view action_name(Action action);

// Rules may carry a priority from 0 to this; higher is evaluated (and wins) first.
inline constexpr std::int64_t rule_priority_max = 1000;
// Errors reported per file before the compiler stops listing more.
inline constexpr std::size_t rule_errors_max = 20;

struct RuleError {
  std::uint32_t line = 0;    // 1-based
  std::uint32_t column = 0;  // 1-based, in bytes
  std::string message;
  std::string to_string() const;  // "line:column: message"
};

struct Rule {
  enum class Op : std::uint8_t {
    feature,
    constant,
    eq,
    ne,
    lt,
    le,
    gt,
    ge,
    logical_and,
    logical_or,
    logical_not
  };
  struct Instruction {
    Op op;
    std::int64_t value;  // feature index or constant
  };
  std::string name;
  std::string reason;
  std::int64_t priority = 0;
  Action action = Action::allow;
  bool no_password = false;          // only with allow: the payment needs no password
  bool shadow = false;               // evaluated and logged, never enforced
  std::vector<Instruction> program;  // postfix; leaves one boolean

  bool matches(const FeatureVector& features) const noexcept;
};

// What a rule set says about one feature vector. Rule indexes point into RuleSet::rules().
struct Verdict {
  Action action = Action::allow;  // the highest-priority enforced match (strictest on ties)
  bool no_password = false;
  Action action_with_shadow = Action::allow;  // the same, had shadow rules been enforced
  std::array<std::uint16_t, decision_rules_max> rules{};  // enforced matches, priority order
  std::uint8_t rule_count = 0;
  std::array<std::uint16_t, decision_rules_max> shadow_rules{};
  std::uint8_t shadow_rule_count = 0;
};

class RuleSet {
 public:
  RuleSet(std::uint32_t version, std::vector<Rule> rules);
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  std::uint32_t version() const { return version_; }
  // Sorted by priority, highest first; ties keep file order.
  const std::vector<Rule>& rules() const { return rules_; }
  Verdict evaluate(const FeatureVector& features) const noexcept;

 private:
  std::uint32_t version_;
  std::vector<Rule> rules_;
};

struct CompileResult {
  std::unique_ptr<RuleSet> rule_set;  // null when errors is not empty
  std::vector<RuleError> errors;
};

CompileResult compile_rules(std::string_view text, std::uint32_t version);

}  // namespace capillary::risk
