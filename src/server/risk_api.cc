#include "server/risk_api.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <iterator>
#include <string>
#include <vector>

#include "server/authenticate.h"
#include "server/call.h"

namespace capillary::server {
namespace {

constexpr std::string_view route_prefix = "/v1/risk/";
constexpr std::string_view users_prefix = "users/";
constexpr std::string_view decisions_suffix = "/decisions";
constexpr std::string_view rules_route = "rules";
constexpr std::string_view limit_parameter = "limit=";

Response json(unsigned status, std::string body) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

// {"ok":false,"errors":[{"line":3,"column":8,"message":"..."}]}
std::string rule_errors_json(const risk::RulesOutcome& outcome) {
  std::string body = R"({"ok":false,"errors":[)";
  for (std::size_t i = 0; i < outcome.errors.size(); ++i) {
    const risk::RuleError& error = outcome.errors[i];
    fmt::format_to(std::back_inserter(body), R"({}{{"line":{},"column":{},"message":)", i == 0 ? "" : ",",
                   error.line, error.column);
    write_string(body, error.message);
    body += '}';
  }
  body += "]}";
  return body;
}

void write_decision(std::string& out, const risk::Decision& decision, const risk::Explanation& explanation) {
  fmt::format_to(std::back_inserter(out),
                 R"({{"event_id":"{}","timestamp_ns":"{}","action":"{}","no_password":{},"risk_score":{},)"
                 R"("rule_set_version":{},"rules":[)",
                 decision.event_id, decision.timestamp_ns, risk::action_name(decision.action),
                 decision.no_password(), decision.risk_score, decision.rule_set_version);
  for (std::size_t i = 0; i < explanation.rules.size(); ++i) {
    const risk::Explanation::RuleReason& rule = explanation.rules[i];
    out += i == 0 ? R"({"name":)" : R"(,{"name":)";
    write_string(out, rule.name);
    out += R"(,"reason":)";
    write_string(out, rule.reason);
    fmt::format_to(std::back_inserter(out), R"(,"action":"{}","shadow":{}}})", risk::action_name(rule.action),
                   rule.shadow);
  }
  out += R"(],"models":[)";
  for (std::size_t i = 0; i < explanation.models.size(); ++i) {
    fmt::format_to(std::back_inserter(out), R"({}{{"model":"{}","points":{}}})", i == 0 ? "" : ",",
                   explanation.models[i].model, explanation.models[i].points);
  }
  fmt::format_to(std::back_inserter(out), R"(],"shadow":{{"rule_set_version":{},"action":"{}","differs":{}}}}})",
                 decision.shadow_rule_set_version, risk::action_name(decision.shadow_action),
                 decision.shadow_differs());
}

bool platform(const auth::Principal& principal) { return principal.kind == auth::PrincipalKind::platform; }

}  // namespace

RiskApi::RiskApi(risk::Engine& risk, const auth::Keyring& keyring, Metrics& metrics)
    : risk_(risk), keyring_(keyring), metrics_(metrics) {}

bool RiskApi::handles(std::string_view target) { return target.starts_with(route_prefix); }

void RiskApi::handle(const Request& request, Respond respond) noexcept {
  const Call call(metrics_, Route::payments, std::move(respond));
  call.guarded([&] {
    const std::optional<auth::Principal> principal = authenticate(keyring_, request, call);
    if (!principal) return;
    const std::size_t question = request.target.find('?');
    const std::string_view query = question == std::string_view::npos ? "" : request.target.substr(question + 1);
    std::string_view path = request.target.substr(route_prefix.size(), question - route_prefix.size());
    if (path.starts_with(users_prefix) && path.ends_with(decisions_suffix)) {
      if (request.method != "GET") return call.fail({405, "method_not_allowed", "the decision log is only read", {}});
      path.remove_prefix(users_prefix.size());
      path.remove_suffix(decisions_suffix.size());
      return decisions(call, *principal, path, query);
    }
    if (path == rules_route || path.starts_with("rules/")) {
      if (!platform(*principal)) return call.fail({403, "forbidden", "risk rules are the platform's", {}});
      if (!query.empty()) return call.fail({400, "unknown_parameter", "this route takes no query parameters", {}});
      return rules(request, call, path.substr(std::min(path.size(), rules_route.size() + 1)));
    }
    call.fail({404, "not_found", fmt::format("no route {} {}", request.method, request.target), {}});
  });
}

void RiskApi::decisions(const Call& call, const auth::Principal& principal, std::string_view id,
                        std::string_view query) const {
  std::uint64_t user = 0;
  if (!parse_decimal(id, &user)) return call.fail({400, "invalid_id", fmt::format("{} is not a decimal id", id), "id"});
  std::uint64_t limit = decisions_per_read_default;
  if (!query.empty() &&
      (!query.starts_with(limit_parameter) || !parse_decimal(query.substr(limit_parameter.size()), &limit) ||
       limit == 0 || limit > risk::decisions_per_query_max)) {
    return call.fail({400, "invalid_parameter",
                      fmt::format("the log takes ?limit=<1..{}>", risk::decisions_per_query_max), "limit"});
  }
  // Another user's log is as absent as an unknown user's: its existence is not the caller's to learn.
  if (!platform(principal) && !(principal.kind == auth::PrincipalKind::user && principal.id == user)) {
    return call.fail({404, "not_found", fmt::format("no decisions of user {} for this caller", user), {}});
  }
  const std::vector<risk::Decision> found = risk_.decisions_for_user(user, static_cast<std::size_t>(limit));
  std::string body = fmt::format(R"({{"user_id":"{}","decisions":[)", user);
  for (std::size_t i = 0; i < found.size(); ++i) {
    if (i != 0) body += ',';
    write_decision(body, found[i], risk_.explain(found[i]));
  }
  body += "]}";
  call.answer(json(200, std::move(body)));
}

void RiskApi::rules(const Request& request, const Call& call, std::string_view action) {
  const bool post = request.method == "POST";
  if (action.empty() && request.method == "GET") return list(call);
  if (!post) return call.fail({405, "method_not_allowed", "rules are changed with POST", {}});
  if (action == "shadow") {
    if (!request.content_type.starts_with("application/json")) {
      return call.fail({415, "unsupported_media_type", "send {\"version\":N} as Content-Type: application/json", {}});
    }
    return shadow(request.body, call);
  }
  if (action.empty() || action == "validate") {
    if (!request.content_type.starts_with("text/plain")) {
      return call.fail({415, "unsupported_media_type", "send the rules file as Content-Type: text/plain", {}});
    }
    const risk::RulesOutcome outcome = action.empty() ? risk_.load_rules(request.body) : risk_.validate_rules(request.body);
    if (!outcome.ok()) return call.answer(json(422, rule_errors_json(outcome)));
    if (action.empty()) return call.answer(json(201, fmt::format(R"({{"version":{}}})", outcome.version)));
    return call.answer(json(200, R"({"ok":true})"));
  }
  constexpr std::string_view activate_suffix = "/activate";
  std::uint64_t version = 0;
  if (!action.ends_with(activate_suffix) ||
      !parse_decimal(action.substr(0, action.size() - activate_suffix.size()), &version) || version > UINT32_MAX) {
    return call.fail({404, "not_found", fmt::format("no route POST {}", request.target), {}});
  }
  if (const Status status = risk_.activate(static_cast<std::uint32_t>(version)); !status.is_ok()) {
    return call.fail({404, "not_found", status.message(), {}});
  }
  call.answer(json(200, fmt::format(R"({{"active_version":{}}})", risk_.active_version())));
}

void RiskApi::list(const Call& call) const {
  std::string body = fmt::format(R"({{"active_version":{},"shadow_version":{},"rule_sets":[)", risk_.active_version(),
                                 risk_.shadow_version());
  const std::vector<risk::RuleSetInfo> sets = risk_.rule_sets();
  for (std::size_t i = 0; i < sets.size(); ++i) {
    const risk::RuleSetInfo& set = sets[i];
    fmt::format_to(std::back_inserter(body),
                   R"({}{{"version":{},"rules":{},"shadow_rules":{},"active":{},"shadow":{}}})", i == 0 ? "" : ",",
                   set.version, set.rules, set.shadow_rules, set.active, set.shadow);
  }
  body += "]}";
  call.answer(json(200, std::move(body)));
}

// {"version":N}, N a rule set version or 0 to stop shadowing; nothing else in the object.
void RiskApi::shadow(std::string& body, const Call& call) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(body).get(object) != simdjson::SUCCESS) {
    return call.fail({400, "malformed_json", "the body is not a JSON object", {}});
  }
  std::uint64_t version = 0;
  if (object.size() != 1 || object["version"].get(version) != simdjson::SUCCESS || version > UINT32_MAX) {
    return call.fail({400, "invalid_field", "send {\"version\":N}, N a rule set version or 0", "version"});
  }
  if (const Status status = risk_.set_shadow(static_cast<std::uint32_t>(version)); !status.is_ok()) {
    return call.fail({404, "not_found", status.message(), "version"});
  }
  call.answer(json(200, fmt::format(R"({{"shadow_version":{}}})", risk_.shadow_version())));
}

}  // namespace capillary::server
