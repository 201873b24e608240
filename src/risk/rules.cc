#include "risk/rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "core/assert.h"

namespace capillary::risk {
namespace {

using Op = Rule::Op;

enum class TokenKind : std::uint8_t { word, integer, money, string, op, open, close, end, invalid };

struct Token {
  TokenKind kind = TokenKind::end;
  std::string_view text;
  std::int64_t value = 0;  // integers; money in fen
  std::uint32_t line = 0, column = 0;
};

bool is_word_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word(char c) { return is_word_start(c) || is_digit(c); }

// Splits the text into tokens, tracking line and column. `#` starts a comment to the line's end.
class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Token next() {
    skip_space_and_comments();
    Token token;
    token.line = line_;
    token.column = column_;
    if (at_ >= text_.size()) return token;
    const std::size_t start = at_;
    const char c = text_[at_];
    if (is_word_start(c)) {
      while (at_ < text_.size() && is_word(text_[at_])) advance();
      token.kind = TokenKind::word;
    } else if (is_digit(c)) {
      lex_number(token);
    } else if (c == '"') {
      advance();
      while (at_ < text_.size() && text_[at_] != '"' && text_[at_] != '\n') advance();
      if (at_ < text_.size() && text_[at_] == '"') {
        advance();
        token.kind = TokenKind::string;
      } else {
        token.kind = TokenKind::invalid;
        token.text = "unterminated string";
        return token;
      }
    } else if (c == '(' || c == ')') {
      advance();
      token.kind = c == '(' ? TokenKind::open : TokenKind::close;
    } else if (c == '<' || c == '>' || c == '=' || c == '!') {
      advance();
      if (at_ < text_.size() && text_[at_] == '=') advance();
      token.kind = TokenKind::op;
    } else {
      advance();
      token.kind = TokenKind::invalid;
      token.text = "unexpected character";
      return token;
    }
    if (token.kind != TokenKind::invalid) token.text = text_.substr(start, at_ - start);
    if (token.kind == TokenKind::string) token.text = token.text.substr(1, token.text.size() - 2);
    return token;
  }

 private:
  void advance() {
    if (text_[at_] == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    ++at_;
  }
  void skip_space_and_comments() {
    while (at_ < text_.size()) {
      const char c = text_[at_];
      if (c == '#') {
        while (at_ < text_.size() && text_[at_] != '\n') advance();
      } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        advance();
      } else {
        return;
      }
    }
  }
  // An integer (`12`) or an amount in yuan with exactly two decimals (`12.50`, i.e. 1250 fen).
  void lex_number(Token& token) {
    const std::size_t start = at_;
    while (at_ < text_.size() && is_digit(text_[at_])) advance();
    std::int64_t whole = 0;
    const auto parsed = std::from_chars(text_.data() + start, text_.data() + at_, whole);
    bool ok = parsed.ec == std::errc{};
    token.kind = TokenKind::integer;
    if (at_ < text_.size() && text_[at_] == '.') {
      advance();
      const std::size_t decimals = at_;
      while (at_ < text_.size() && is_digit(text_[at_])) advance();
      ok = ok && at_ - decimals == 2 && whole <= INT64_MAX / 100 - 1;
      if (ok) whole = whole * 100 + (text_[decimals] - '0') * 10 + (text_[decimals + 1] - '0');
      token.kind = TokenKind::money;
    }
    if (at_ < text_.size() && is_word(text_[at_])) ok = false;
    if (!ok) {
      while (at_ < text_.size() && (is_word(text_[at_]) || text_[at_] == '.')) advance();
      token.kind = TokenKind::invalid;
      token.text = "bad number: write an integer (12) or yuan with two decimals (12.50)";
      return;
    }
    token.value = whole;
  }

  std::string_view text_;
  std::size_t at_ = 0;
  std::uint32_t line_ = 1, column_ = 1;
};

struct ParseError {
  RuleError error;
};

std::string_view type_name(FeatureType type) {
  switch (type) {
    case FeatureType::boolean:
      return "bool";
    case FeatureType::integer:
      return "int";
    case FeatureType::money:
      return "money";
  }
  return "?";
}

// Recursive descent over one file. Errors are thrown as ParseError inside the parser only and
// turned into a list by compile_rules: after an error the parser skips to the next `rule`.
class Parser {
 public:
  explicit Parser(std::string_view text) : lexer_(text) { token_ = lexer_.next(); }

  void parse_file(std::vector<Rule>& rules, std::vector<RuleError>& errors) {
    while (token_.kind != TokenKind::end && errors.size() < rule_errors_max) {
      try {
        Rule rule = parse_rule();
        if (std::any_of(rules.begin(), rules.end(),
                        [&](const Rule& r) { return r.name == rule.name; })) {
          errors.push_back(
              {rule_line_, rule_column_, fmt::format("duplicate rule name '{}'", rule.name)});
        } else if (rules.size() == rules_per_set_max) {
          errors.push_back({rule_line_, rule_column_,
                            fmt::format("more than {} rules in one file", rules_per_set_max)});
        } else {
          rules.push_back(std::move(rule));
        }
      } catch (const ParseError& e) {
        errors.push_back(e.error);
        skip_to_next_rule();
      }
    }
  }

 private:
  [[noreturn]] void fail(const Token& at, std::string message) {
    throw ParseError{{at.line, at.column, std::move(message)}};
  }
  void check_lexable(const Token& token) {
    if (token.kind == TokenKind::invalid) fail(token, std::string(token.text));
  }
  Token take() {
    check_lexable(token_);
    Token taken = token_;
    token_ = lexer_.next();
    return taken;
  }
  bool at_word(std::string_view word) const {
    return token_.kind == TokenKind::word && token_.text == word;
  }
  void expect_word(std::string_view word) {
    if (!at_word(word))
      fail(token_, fmt::format("expected '{}', found {}", word, describe(token_)));
    take();
  }
  static std::string describe(const Token& token) {
    switch (token.kind) {
      case TokenKind::end:
        return "the end of the file";
      case TokenKind::string:
        return fmt::format("\"{}\"", token.text);
      case TokenKind::invalid:
        return std::string(token.text);
      default:
        return fmt::format("'{}'", token.text);
    }
  }
  void skip_to_next_rule() {
    while (token_.kind != TokenKind::end && !at_word("rule")) token_ = lexer_.next();
  }

  Rule parse_rule() {
    rule_line_ = token_.line;
    rule_column_ = token_.column;
    expect_word("rule");
    Rule rule;
    const Token name = take();
    if (name.kind != TokenKind::word || is_keyword(name.text)) {
      fail(name, fmt::format("expected a rule name, found {}", describe(name)));
    }
    if (name.text.size() > rule_name_bytes_max) {
      fail(name, fmt::format("rule name longer than {} bytes", rule_name_bytes_max));
    }
    rule.name = std::string(name.text);
    bool has_priority = false, has_when = false, has_then = false;
    while (!at_word("end")) {
      const Token clause = token_;
      if (at_word("priority")) {
        once(has_priority, clause);
        take();
        const Token value = take();
        if (value.kind != TokenKind::integer || value.value > rule_priority_max) {
          fail(value, fmt::format("priority must be an integer from 0 to {}", rule_priority_max));
        }
        rule.priority = value.value;
      } else if (at_word("when")) {
        once(has_when, clause);
        take();
        const Token start = token_;
        depth_ = 0;
        if (parse_or(rule.program) != FeatureType::boolean) {
          fail(start, "the condition after 'when' must be true or false, not a number");
        }
      } else if (at_word("then")) {
        once(has_then, clause);
        take();
        parse_action(rule);
      } else if (at_word("shadow")) {
        if (rule.shadow) fail(clause, "'shadow' given twice");
        take();
        rule.shadow = true;
      } else {
        fail(token_, fmt::format("expected 'priority', 'when', 'then', 'shadow' or 'end' in rule "
                                 "'{}', found {}",
                                 rule.name, describe(token_)));
      }
    }
    if (!has_when) fail(token_, fmt::format("rule '{}' has no 'when' condition", rule.name));
    if (!has_then) fail(token_, fmt::format("rule '{}' has no 'then' action", rule.name));
    take();  // end
    return rule;
  }

  void once(bool& seen, const Token& clause) {
    if (seen) fail(clause, fmt::format("'{}' given twice", clause.text));
    seen = true;
  }

  void parse_action(Rule& rule) {
    const Token action = take();
    if (action.kind == TokenKind::word && action.text == "allow") {
      rule.action = Action::allow;
    } else if (action.kind == TokenKind::word && action.text == "challenge") {
      rule.action = Action::challenge;
    } else if (action.kind == TokenKind::word && action.text == "deny") {
      rule.action = Action::deny;
    } else {
      fail(action, fmt::format("expected allow, challenge or deny, found {}", describe(action)));
    }
    if (at_word("no_password")) {
      if (rule.action != Action::allow) fail(token_, "'no_password' goes only with 'allow'");
      take();
      rule.no_password = true;
    }
    const Token reason = take();
    if (reason.kind != TokenKind::string || reason.text.empty()) {
      fail(reason, fmt::format("expected the reason as a quoted text, found {}", describe(reason)));
    }
    if (reason.text.size() > rule_reason_bytes_max) {
      fail(reason, fmt::format("reason longer than {} bytes", rule_reason_bytes_max));
    }
    rule.reason = std::string(reason.text);
  }

  static bool is_keyword(std::string_view word) {
    for (std::string_view keyword :
         {"rule", "priority", "when", "then", "shadow", "end", "and", "or", "not", "true", "false",
          "allow", "challenge", "deny", "no_password"}) {
      if (word == keyword) return true;
    }
    return false;
  }

  void emit(std::vector<Rule::Instruction>& program, Op op, std::int64_t value, const Token& at) {
    if (program.size() == expression_terms_max) {
      fail(at, fmt::format("condition longer than {} terms", expression_terms_max));
    }
    program.push_back({op, value});
  }

  void require_bool(FeatureType type, const Token& at, std::string_view what) {
    if (type != FeatureType::boolean) {
      fail(at,
           fmt::format("'{}' needs true/false operands, this one is {}", what, type_name(type)));
    }
  }

  FeatureType parse_or(std::vector<Rule::Instruction>& program) {
    Token left_at = token_;
    FeatureType left = parse_and(program);
    while (at_word("or")) {
      const Token op = take();
      require_bool(left, left_at, "or");
      left_at = token_;
      require_bool(parse_and(program), left_at, "or");
      emit(program, Op::logical_or, 0, op);
      left = FeatureType::boolean;
    }
    return left;
  }

  FeatureType parse_and(std::vector<Rule::Instruction>& program) {
    Token left_at = token_;
    FeatureType left = parse_not(program);
    while (at_word("and")) {
      const Token op = take();
      require_bool(left, left_at, "and");
      left_at = token_;
      require_bool(parse_not(program), left_at, "and");
      emit(program, Op::logical_and, 0, op);
      left = FeatureType::boolean;
    }
    return left;
  }

  // Nesting (`not`, parentheses) is bounded, so the recursion is too.
  FeatureType parse_not(std::vector<Rule::Instruction>& program) {
    if (++depth_ > expression_depth_max) {
      fail(token_, fmt::format("condition nested deeper than {}", expression_depth_max));
    }
    FeatureType type;
    if (at_word("not")) {
      const Token op = take();
      const Token operand_at = token_;
      require_bool(parse_not(program), operand_at, "not");
      emit(program, Op::logical_not, 0, op);
      type = FeatureType::boolean;
    } else {
      type = parse_comparison(program);
    }
    --depth_;
    return type;
  }

  FeatureType parse_comparison(std::vector<Rule::Instruction>& program) {
    if (token_.kind == TokenKind::open) {
      const Token open = take();
      const FeatureType inner = parse_or(program);
      if (token_.kind != TokenKind::close) {
        fail(token_, fmt::format("expected ')' to close the '(' at {}:{}, found {}", open.line,
                                 open.column, describe(token_)));
      }
      take();
      return inner;
    }
    const Token left_at = token_;
    const FeatureType left = parse_operand(program);
    if (token_.kind != TokenKind::op) return left;
    const Token op = take();
    const Op compare = comparison(op);
    const Token right_at = token_;
    const FeatureType right = parse_operand(program);
    if (left != right) {
      const bool money = left == FeatureType::money || right == FeatureType::money;
      fail(right_at, fmt::format("type error: {} '{}' {} '{}'{}", type_name(left), left_at.text,
                                 op.text, right_at.text,
                                 money ? ": money compares with money; write amounts in yuan with "
                                         "two decimals (500.00)"
                                       : ": both sides must have the same type"));
    }
    if (left == FeatureType::boolean && compare != Op::eq && compare != Op::ne) {
      fail(op, fmt::format("'{}' does not order true/false; use == or !=", op.text));
    }
    emit(program, compare, 0, op);
    return FeatureType::boolean;
  }

  Op comparison(const Token& op) {
    if (op.text == "==") return Op::eq;
    if (op.text == "!=") return Op::ne;
    if (op.text == "<") return Op::lt;
    if (op.text == "<=") return Op::le;
    if (op.text == ">") return Op::gt;
    if (op.text == ">=") return Op::ge;
    fail(op, fmt::format("unknown operator '{}': use == != < <= > >=", op.text));
  }

  FeatureType parse_operand(std::vector<Rule::Instruction>& program) {
    const Token operand = take();
    switch (operand.kind) {
      case TokenKind::integer:
        emit(program, Op::constant, operand.value, operand);
        return FeatureType::integer;
      case TokenKind::money:
        emit(program, Op::constant, operand.value, operand);
        return FeatureType::money;
      case TokenKind::word: {
        if (operand.text == "true" || operand.text == "false") {
          emit(program, Op::constant, operand.text == "true", operand);
          return FeatureType::boolean;
        }
        const std::optional<Feature> feature = feature_by_name(operand.text);
        if (!feature) {
          fail(operand,
               is_keyword(operand.text)
                   ? fmt::format("expected a feature or a value, found '{}'", operand.text)
                   : fmt::format("unknown feature '{}' (docs/risk.md lists them)", operand.text));
        }
        emit(program, Op::feature, static_cast<std::int64_t>(*feature), operand);
        return info(*feature).type;
      }
      default:
        fail(operand, fmt::format("expected a feature or a value, found {}", describe(operand)));
    }
  }

  Lexer lexer_;
  Token token_;
  std::size_t depth_ = 0;
  std::uint32_t rule_line_ = 0, rule_column_ = 0;
};

}  // namespace

std::string_view action_name(Action action) {
  switch (action) {
    case Action::allow:
      return "allow";
    case Action::challenge:
      return "challenge";
    case Action::deny:
      return "deny";
  }
  return "?";
}

std::string RuleError::to_string() const { return fmt::format("{}:{}: {}", line, column, message); }

bool Rule::matches(const FeatureVector& features) const noexcept {
  std::array<std::int64_t, expression_terms_max> stack;
  std::size_t top = 0;
  for (const Instruction& instruction : program) {
    switch (instruction.op) {
      case Op::feature:
        stack[top++] = features.at(static_cast<std::size_t>(instruction.value));
        continue;
      case Op::constant:
        stack[top++] = instruction.value;
        continue;
      case Op::logical_not:
        stack[top - 1] = !stack[top - 1];
        continue;
      default:
        break;
    }
    const std::int64_t right = stack[--top];
    std::int64_t& left = stack[top - 1];
    switch (instruction.op) {
      case Op::eq:
        left = left == right;
        break;
      case Op::ne:
        left = left != right;
        break;
      case Op::lt:
        left = left < right;
        break;
      case Op::le:
        left = left <= right;
        break;
      case Op::gt:
        left = left > right;
        break;
      case Op::ge:
        left = left >= right;
        break;
      case Op::logical_and:
        left = left && right;
        break;
      case Op::logical_or:
        left = left || right;
        break;
      default:
        CAP_ASSERT(false);
    }
  }
  CAP_ASSERT(top == 1);
  return stack[0] != 0;
}

RuleSet::RuleSet(std::uint32_t version, std::vector<Rule> rules)
    : version_(version), rules_(std::move(rules)) {
  CAP_ASSERT(version > 0);
  CAP_ASSERT(rules_.size() <= rules_per_set_max);
  std::stable_sort(rules_.begin(), rules_.end(),
                   [](const Rule& a, const Rule& b) { return a.priority > b.priority; });
}

// Rules are sorted by priority, so the first enforced match decides; an equal-priority match
// later in the list can only make the action stricter.
Verdict RuleSet::evaluate(const FeatureVector& features) const noexcept {
  Verdict verdict;
  std::int64_t decided_priority = -1, decided_with_shadow_priority = -1;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const Rule& rule = rules_[i];
    if (!rule.matches(features)) continue;
    if (decided_with_shadow_priority < 0 || (rule.priority == decided_with_shadow_priority &&
                                             rule.action > verdict.action_with_shadow)) {
      decided_with_shadow_priority = rule.priority;
      verdict.action_with_shadow = rule.action;
    }
    const auto index = static_cast<std::uint16_t>(i);
    if (rule.shadow) {
      if (verdict.shadow_rule_count < decision_rules_max) {
        verdict.shadow_rules[verdict.shadow_rule_count++] = index;
      }
      continue;
    }
    if (decided_priority < 0 ||
        (rule.priority == decided_priority && rule.action > verdict.action)) {
      decided_priority = rule.priority;
      verdict.action = rule.action;
      verdict.no_password = rule.no_password;
    }
    if (verdict.rule_count < decision_rules_max) verdict.rules[verdict.rule_count++] = index;
  }
  CAP_ASSERT(!verdict.no_password || verdict.action == Action::allow);
  return verdict;
}

CompileResult compile_rules(std::string_view text, std::uint32_t version) {
  CompileResult result;
  if (text.size() > rules_file_bytes_max) {
    result.errors.push_back(
        {1, 1, fmt::format("rules file larger than {} bytes", rules_file_bytes_max)});
    return result;
  }
  std::vector<Rule> rules;
  Parser(text).parse_file(rules, result.errors);
  if (result.errors.empty() && rules.empty()) {
    result.errors.push_back({1, 1, "no rules in the file"});
  }
  if (result.errors.empty()) result.rule_set = std::make_unique<RuleSet>(version, std::move(rules));
  return result;
}

}  // namespace capillary::risk
