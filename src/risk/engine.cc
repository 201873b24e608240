#include "risk/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "core/assert.h"
#include "risk/models.h"

namespace capillary::risk {
namespace {

// The models with the largest contributions, largest first, ties by model order.
void record_top_models(const ModelScores& scores, Decision& decision) {
  std::array<std::uint8_t, model_count> order;
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + decision_models_max, order.end(),
                    [&](std::uint8_t a, std::uint8_t b) {
                      return scores.points[a] > scores.points[b] ||
                             (scores.points[a] == scores.points[b] && a < b);
                    });
  for (std::size_t i = 0; i < decision_models_max && scores.points[order[i]] > 0; ++i) {
    decision.models[i] = order[i];
    decision.model_points[i] = scores.points[order[i]];
    decision.model_count = static_cast<std::uint8_t>(i + 1);
  }
}

}  // namespace

std::string RulesOutcome::message() const {
  if (errors.empty()) return "ok";
  std::string out;
  for (const RuleError& error : errors) out += error.to_string() + "\n";
  out.pop_back();
  return out;
}

Engine::Engine(EngineOptions options) : log_(options.decision_log_capacity) {
  const RulesOutcome built_in = load_rules(default_rules_text());
  CAP_ASSERT(built_in.ok());
  CAP_ASSERT(activate(built_in.version).is_ok());
}

RulesOutcome Engine::validate_rules(std::string_view text) const {
  RulesOutcome outcome;
  outcome.errors = compile_rules(text, 1).errors;
  return outcome;
}

RulesOutcome Engine::load_rules(std::string_view text) {
  std::lock_guard lock(rules_mutex_);
  CompileResult compiled = compile_rules(text, next_version_);
  RulesOutcome outcome;
  outcome.errors = std::move(compiled.errors);
  if (!outcome.ok()) return outcome;
  outcome.version = next_version_++;
  versions_.push_back(std::move(compiled.rule_set));
  // Drop the oldest versions that are neither active nor in shadow.
  const std::shared_ptr<const RuleSet> active = active_.load(), shadow = shadow_.load();
  for (auto it = versions_.begin();
       versions_.size() > rule_versions_kept_max && it != versions_.end();) {
    it = (*it == active || *it == shadow) ? it + 1 : versions_.erase(it);
  }
  return outcome;
}

std::shared_ptr<const RuleSet> Engine::find_version(std::uint32_t version) const {
  for (const auto& rule_set : versions_) {
    if (rule_set->version() == version) return rule_set;
  }
  return nullptr;
}

Status Engine::activate(std::uint32_t version) {
  std::lock_guard lock(rules_mutex_);
  std::shared_ptr<const RuleSet> rule_set = find_version(version);
  if (!rule_set) return Status::not_found(fmt::format("no rule set version {}", version));
  active_.store(std::move(rule_set));
  return Status::ok();
}

Status Engine::set_shadow(std::uint32_t version) {
  std::lock_guard lock(rules_mutex_);
  if (version == 0) {
    shadow_.store(nullptr);
    return Status::ok();
  }
  std::shared_ptr<const RuleSet> rule_set = find_version(version);
  if (!rule_set) return Status::not_found(fmt::format("no rule set version {}", version));
  shadow_.store(std::move(rule_set));
  return Status::ok();
}

std::uint32_t Engine::active_version() const { return active_.load()->version(); }

std::uint32_t Engine::shadow_version() const {
  const auto shadow = shadow_.load();
  return shadow ? shadow->version() : 0;
}

std::vector<RuleSetInfo> Engine::rule_sets() const {
  std::lock_guard lock(rules_mutex_);
  const std::shared_ptr<const RuleSet> active = active_.load(), shadow = shadow_.load();
  std::vector<RuleSetInfo> out;
  for (const auto& rule_set : versions_) {
    const auto shadow_rules = std::count_if(rule_set->rules().begin(), rule_set->rules().end(),
                                            [](const Rule& rule) { return rule.shadow; });
    out.push_back({rule_set->version(), rule_set->rules().size(),
                   static_cast<std::size_t>(shadow_rules), rule_set == active, rule_set == shadow});
  }
  return out;
}

void Engine::link_family(std::uint64_t user, std::uint64_t group) {
  std::lock_guard lock(features_mutex_);
  features_.link_family(user, group);
}

void Engine::flag_account(std::uint64_t user, bool flagged) {
  std::lock_guard lock(features_mutex_);
  features_.flag_account(user, flagged);
}

void Engine::link_counterparties(std::uint64_t a, std::uint64_t b) {
  std::lock_guard lock(features_mutex_);
  features_.link_counterparties(a, b);
}

void Engine::set_merchant_risk(std::uint64_t merchant, std::int64_t level) {
  std::lock_guard lock(features_mutex_);
  features_.set_merchant_risk(merchant, level);
}

Decision Engine::decide(const Event& event) {
  Decision decision;
  decision.event_id = event.event_id;
  decision.user_id = event.user_id;
  {
    std::lock_guard lock(features_mutex_);
    latest_ns_ = std::max(latest_ns_, event.timestamp_ns);
    decision.timestamp_ns = latest_ns_;
    FeatureVector features;
    const FeatureStore::Observation observation = features_.observe(event, latest_ns_, features);
    const ModelScores scores = score_models(features);
    decision.risk_score = scores.total;
    record_top_models(scores, decision);
    apply_rules(features, decision);
    if (decision.action == Action::allow) features_.learn(event, latest_ns_, observation);
  }
  {
    std::lock_guard lock(log_mutex_);
    log_.append(decision);
  }
  return decision;
}

void Engine::confirm(const Event& event) {
  std::lock_guard lock(features_mutex_);
  features_.learn(event, std::min(event.timestamp_ns, latest_ns_));
}

// The active rule set decides; the shadow set (or the active set's shadow rules) is only recorded.
void Engine::apply_rules(const FeatureVector& features, Decision& decision) const {
  const std::shared_ptr<const RuleSet> active = active_.load();
  const std::shared_ptr<const RuleSet> shadow = shadow_.load();
  const Verdict verdict = active->evaluate(features);
  decision.rule_set_version = active->version();
  decision.action = verdict.action;
  decision.flags = verdict.no_password ? Decision::flag_no_password : 0;
  decision.shadow_action = verdict.action_with_shadow;
  if (shadow) {
    decision.shadow_rule_set_version = shadow->version();
    decision.shadow_action = shadow->evaluate(features).action;
  }
  if (decision.shadow_action != decision.action) decision.flags |= Decision::flag_shadow_differs;
  decision.rule_count = verdict.rule_count;
  std::copy_n(verdict.rules.begin(), verdict.rule_count, decision.rules.begin());
  decision.shadow_rule_count = static_cast<std::uint8_t>(
      std::min<std::size_t>(verdict.shadow_rule_count, decision_rules_max - verdict.rule_count));
  std::copy_n(verdict.shadow_rules.begin(), decision.shadow_rule_count,
              decision.rules.begin() + verdict.rule_count);
}

std::vector<Decision> Engine::decisions_for_user(std::uint64_t user_id, std::size_t limit) const {
  std::lock_guard lock(log_mutex_);
  return log_.for_user(user_id, limit);
}

Explanation Engine::explain(const Decision& decision) const {
  std::shared_ptr<const RuleSet> rule_set;
  {
    std::lock_guard lock(rules_mutex_);
    rule_set = find_version(decision.rule_set_version);
  }
  Explanation out;
  for (std::size_t i = 0; i < decision.rule_count + decision.shadow_rule_count; ++i) {
    const std::uint16_t index = decision.rules[i];
    const bool shadow = i >= decision.rule_count;
    if (rule_set && index < rule_set->rules().size()) {
      const Rule& rule = rule_set->rules()[index];
      out.rules.push_back({rule.name, rule.reason, rule.action, shadow});
    } else {
      out.rules.push_back({fmt::format("#{}", index), "", Action::allow, shadow});
    }
  }
  for (std::size_t i = 0; i < decision.model_count; ++i) {
    out.models.push_back({model_name(decision.models[i]), decision.model_points[i]});
  }
  return out;
}

}  // namespace capillary::risk
