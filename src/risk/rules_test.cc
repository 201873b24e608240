#include "risk/rules.h"

#include <gtest/gtest.h>

namespace capillary::risk {
namespace {

CompileResult compile(std::string_view text) { return compile_rules(text, 1); }

std::string first_error(std::string_view text) {
  const CompileResult result = compile(text);
  EXPECT_EQ(result.rule_set, nullptr);
  return result.errors.empty() ? "" : result.errors.front().to_string();
}

constexpr std::string_view good = R"(# comment
rule big_payout
  priority 50
  when (is_withdrawal or is_transfer) and amount >= 5000.00 and not device_new
  then challenge "large payout"
end
rule burst
  priority 90
  when device_count_1m >= 6
  then deny "burst"
end
rule small
  priority 1
  when is_payment and amount <= 200.00
  then allow no_password "small payment"
end
)";

TEST(Rules, CompilesSortsByPriorityAndEvaluates) {
  const CompileResult result = compile(good);
  ASSERT_TRUE(result.errors.empty()) << result.errors.front().to_string();
  const RuleSet& set = *result.rule_set;
  ASSERT_EQ(set.rules().size(), 3u);
  EXPECT_EQ(set.rules()[0].name, "burst");
  EXPECT_EQ(set.rules()[1].name, "big_payout");

  FeatureVector f;
  f[Feature::is_withdrawal] = 1;
  f[Feature::amount] = 500'000;
  Verdict v = set.evaluate(f);
  EXPECT_EQ(v.action, Action::challenge);
  ASSERT_EQ(v.rule_count, 1);
  EXPECT_EQ(set.rules()[v.rules[0]].name, "big_payout");
  f[Feature::amount] = 499'999;  // 4999.99: one fen under
  EXPECT_EQ(set.evaluate(f).action, Action::allow);
  EXPECT_EQ(set.evaluate(f).rule_count, 0);
  f[Feature::device_count_1m] = 6;
  f[Feature::amount] = 500'000;
  v = set.evaluate(f);
  EXPECT_EQ(v.action, Action::deny) << "the higher priority decides";
  EXPECT_EQ(v.rule_count, 2);

  FeatureVector small;
  small[Feature::is_payment] = 1;
  small[Feature::amount] = 20'000;
  v = set.evaluate(small);
  EXPECT_EQ(v.action, Action::allow);
  EXPECT_TRUE(v.no_password);
  small[Feature::amount] = 20'001;
  EXPECT_FALSE(set.evaluate(small).no_password);
}

TEST(Rules, EqualPriorityTakesTheStricterAction) {
  const CompileResult result = compile(R"(
rule a priority 5 when amount > 0.00 then challenge "a" end
rule b priority 5 when amount > 0.00 then deny "b" end
rule c priority 5 when amount > 0.00 then allow "c" end)");
  ASSERT_TRUE(result.errors.empty());
  FeatureVector f;
  f[Feature::amount] = 1;
  EXPECT_EQ(result.rule_set->evaluate(f).action, Action::deny);
}

TEST(Rules, ShadowRulesAreRecordedNotEnforced) {
  const CompileResult result = compile(R"(
rule trial priority 100 when amount > 10.00 then deny "trial" shadow end
rule real priority 5 when amount > 10.00 then challenge "real" end)");
  ASSERT_TRUE(result.errors.empty());
  FeatureVector f;
  f[Feature::amount] = 1001;
  const Verdict v = result.rule_set->evaluate(f);
  EXPECT_EQ(v.action, Action::challenge);
  EXPECT_EQ(v.action_with_shadow, Action::deny);
  ASSERT_EQ(v.shadow_rule_count, 1);
  EXPECT_EQ(result.rule_set->rules()[v.shadow_rules[0]].name, "trial");
}

TEST(Rules, ErrorsSayWhereAndWhat) {
  EXPECT_EQ(first_error("rule a\n  priority 1\n  when amount_typo > 1.00\n  then deny \"x\"\nend"),
            "3:8: unknown feature 'amount_typo' (docs/risk.md lists them)");
  EXPECT_EQ(first_error("rule a priority 1 when amount > 100 then deny \"x\" end"),
            "1:33: type error: money 'amount' > '100': money compares with money; write amounts "
            "in yuan with two decimals (500.00)");
  EXPECT_EQ(first_error("rule a priority 1 when device_count_1m then deny \"x\" end"),
            "1:24: the condition after 'when' must be true or false, not a number");
  EXPECT_EQ(first_error("rule a priority 1 when device_new < true then deny \"x\" end"),
            "1:35: '<' does not order true/false; use == or !=");
  EXPECT_EQ(first_error("rule a priority 1 when device_new and 3 then deny \"x\" end"),
            "1:39: 'and' needs true/false operands, this one is int");
  EXPECT_EQ(first_error("rule a priority 1 when device_new then block \"x\" end"),
            "1:40: expected allow, challenge or deny, found 'block'");
  EXPECT_EQ(first_error("rule a priority 1 when device_new then deny no_password \"x\" end"),
            "1:45: 'no_password' goes only with 'allow'");
  EXPECT_EQ(first_error("rule a priority 1 when (device_new then deny \"x\" end"),
            "1:36: expected ')' to close the '(' at 1:24, found 'then'");
  EXPECT_EQ(first_error("rule a priority 1 when amount > 1.5 then deny \"x\" end"),
            "1:33: bad number: write an integer (12) or yuan with two decimals (12.50)");
  EXPECT_EQ(first_error("rule a priority 1 when device_new then deny \"x end"),
            "1:45: unterminated string");
  EXPECT_EQ(first_error("rule a priority 1 then deny \"x\" end"),
            "1:33: rule 'a' has no 'when' condition");
  EXPECT_EQ(first_error("rule a priority 1001 when device_new then deny \"x\" end"),
            "1:17: priority must be an integer from 0 to 1000");
  EXPECT_EQ(first_error(""), "1:1: no rules in the file");
}

TEST(Rules, DuplicateNamesAndSeveralErrorsAreAllReported) {
  const CompileResult result = compile(R"(rule a priority 1 when device_new then deny "x" end
rule a priority 2 when city_new then deny "y" end
rule b priority 2 when nope then deny "y" end
rule c priority 2 when city_new then deny "z" end)");
  EXPECT_EQ(result.rule_set, nullptr);
  ASSERT_EQ(result.errors.size(), 2u);
  EXPECT_EQ(result.errors[0].to_string(), "2:1: duplicate rule name 'a'");
  EXPECT_EQ(result.errors[1].to_string(), "3:24: unknown feature 'nope' (docs/risk.md lists them)");
}

TEST(Rules, NestingIsBounded) {
  std::string deep = "rule a priority 1 when ";
  for (std::size_t i = 0; i <= expression_depth_max; ++i) deep += "not ";
  deep += "device_new then deny \"x\" end";
  EXPECT_NE(first_error(deep).find("nested deeper than"), std::string::npos);
  std::string fine = "rule a priority 1 when not not (device_new) then deny \"x\" end";
  EXPECT_TRUE(compile(fine).errors.empty());
}

}  // namespace
}  // namespace capillary::risk
