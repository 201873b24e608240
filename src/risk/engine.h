#pragma once
// risk::Engine: decides every login, payment, transfer and withdrawal before it is journaled.
//
//   Engine engine;                                  // starts with the built-in default rules
//   RulesOutcome loaded = engine.load_rules(text);  // validate + compile, kept as a new version
//   if (loaded.ok()) engine.activate(loaded.version);
//   Decision d = engine.decide(event);              // embed d in the journaled command
//
// Thread safety: every method may be called from any thread at any time. Decisions are serialised
// (one ordered stream of events per engine, like the engine cell it guards: features read and
// update per-user state). Rules are an immutable compiled set behind an atomic pointer: activate()
// and set_shadow() swap it without waiting for decisions, a decision in flight finishes on the set
// it started with, and no decision ever sees half a rule set.
//
// Habits learn only from events that went through: decide() learns from what it allows, and
// confirm() from a challenged event whose holder then passed the challenge. Velocity counts every
// attempt.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "risk/decision.h"
#include "risk/decision_log.h"
#include "risk/event.h"
#include "risk/features.h"
#include "risk/rules.h"

namespace capillary::risk {

struct EngineOptions {
  std::size_t decision_log_capacity = risk::decision_log_capacity;
};

// The result of validating or loading a rules file: a version when it compiled, else the errors
// ("line:column: message"). A file with errors changes nothing.
struct RulesOutcome {
  std::uint32_t version = 0;  // 0 when not loaded
  std::vector<RuleError> errors;
  bool ok() const { return errors.empty(); }
  std::string message() const;  // errors one per line, or "ok"
};

struct RuleSetInfo {
  std::uint32_t version;
  std::size_t rules;
  std::size_t shadow_rules;
  bool active;
  bool shadow;
};

// A decision in words, for the audit log and its HTTP endpoint.
struct Explanation {
  struct RuleReason {
    std::string name;
    std::string reason;
    Action action;
    bool shadow;
  };
  struct ModelReason {
    std::string_view model;
    std::uint16_t points;
  };
  std::vector<RuleReason> rules;    // names are "#<index>" when the version is no longer kept
  std::vector<ModelReason> models;  // largest contributions first
};

class Engine {
 public:
  explicit Engine(EngineOptions options = {});
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Rules. Versions count up from 1 (the built-in rules); the last `rule_versions_kept_max` are
  // kept for activate(), plus whatever is active or in shadow.
  RulesOutcome validate_rules(std::string_view text) const;
  RulesOutcome load_rules(std::string_view text);
  // Makes a loaded version the one that decides. not_found when the version is not kept.
  Status activate(std::uint32_t version);
  // Evaluates a loaded version beside the active one on every decision, logged in
  // Decision::shadow_action, never enforced. 0 stops shadowing.
  Status set_shadow(std::uint32_t version);
  std::uint32_t active_version() const;
  std::uint32_t shadow_version() const;
  std::vector<RuleSetInfo> rule_sets() const;

  // What the features know beyond the events (from account records and investigations).
  void link_family(std::uint64_t user, std::uint64_t group);
  void flag_account(std::uint64_t user, bool flagged);
  void link_counterparties(std::uint64_t a, std::uint64_t b);
  void set_merchant_risk(std::uint64_t merchant, std::int64_t level);  // 0..3

  // Decides one event and logs the decision. The decision's timestamp is the event's, or the
  // latest one decided if the event is older (features only move forward in time).
  Decision decide(const Event& event);
  // The holder passed the challenge of a challenged event: its device, city and payee become
  // familiar, as if it had been allowed.
  void confirm(const Event& event);
  // The user's logged decisions, newest first (at most `limit`, capped at decisions_per_query_max).
  std::vector<Decision> decisions_for_user(std::uint64_t user_id, std::size_t limit) const;
  Explanation explain(const Decision& decision) const;

 private:
  std::shared_ptr<const RuleSet> find_version(std::uint32_t version) const;  // rules_mutex_ held
  void apply_rules(const FeatureVector& features, Decision& decision) const;

  mutable std::mutex features_mutex_;
  FeatureStore features_;
  std::uint64_t latest_ns_ = 0;

  mutable std::mutex log_mutex_;
  DecisionLog log_;

  mutable std::mutex rules_mutex_;  // versions_ and next_version_; swaps are atomic on their own
  std::vector<std::shared_ptr<const RuleSet>> versions_;  // oldest first
  std::uint32_t next_version_ = 1;
  std::atomic<std::shared_ptr<const RuleSet>> active_;
  std::atomic<std::shared_ptr<const RuleSet>> shadow_;
};

// The rules the engine starts with: config/risk/default.rules, built into the binary.
std::string_view default_rules_text();

}  // namespace capillary::risk
