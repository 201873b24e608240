// `capillary credit train|score|rescore`: training the credit scorecard on the synthetic
// population, explaining one user's score, and rescoring a whole population (docs/credit.md).

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "credit/credit_state.h"
#include "credit/explanation_json.h"
#include "credit/model_file.h"
#include "credit/population.h"
#include "credit/train.h"
#include "credit/uses.h"

namespace capillary::cli {
namespace {

using namespace capillary::credit;
using Clock = std::chrono::steady_clock;

constexpr const char* default_model_path = "models/credit-v1.model";
// Users scored between two looks at the clock while rescoring: small enough for progress once a
// second, large enough that reading the clock costs nothing.
constexpr std::uint64_t rescore_chunk_users = 1 << 16;

struct TrainCommand {
  std::uint64_t users = 200'000;
  std::uint64_t seed = 1;
  std::string name = "credit-v1";
  std::filesystem::path out = default_model_path;
};

struct ScoreCommand {
  std::filesystem::path model = default_model_path;
  std::uint64_t user = 0;
  std::uint64_t seed = 1;
  std::vector<std::string> events;
  bool json = false;
};

struct RescoreCommand {
  std::filesystem::path model = default_model_path;
  std::uint64_t users = 1'000'000;
  std::uint64_t seed = 1;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU seconds this thread has run: on a shared machine, what the work cost apart from waiting.
double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

std::optional<Model> load(const std::filesystem::path& path, std::string_view command) {
  Model model;
  if (Status status = read_model_file(path, &model); !status.is_ok()) {
    fmt::print(stderr, "credit {}: {}\n", command, status.message());
    return std::nullopt;
  }
  return model;
}

int run_train(const TrainCommand& command) {
  if (command.users < training_users_min || !valid_model_name(command.name)) {
    fmt::print(stderr, "credit train: need --users >= {} and a --name of 1..{} letters, digits, "
                       "'-', '_' or '.'\n", training_users_min, name_bytes_max);
    return 2;
  }
  TrainOptions options;
  options.users = command.users;
  options.seed = command.seed;
  options.name = command.name;
  options.progress = [](std::string_view line) { fmt::print(stderr, "{}\n", line); };
  const auto started = Clock::now();
  const TrainResult result = train(options);
  fmt::print(stderr, "held out: {} users, {} defaults; {} of {} features kept; {:.1f} s\n",
             result.test_users, result.test_defaults, result.features_used, feature_count,
             seconds_since(started));
  fmt::print(stderr, "the generator's own noiseless log-odds on the same users: auc {:.4f} ks {:.4f}\n",
             result.ceiling.auc, result.ceiling.ks);
  if (Status status = write_model_file(command.out, result.model); !status.is_ok()) {
    fmt::print(stderr, "credit train: {}\n", status.message());
    return 1;
  }
  fmt::print("auc={:.4f} ks={:.4f} users={} model={}\n", result.held_out.auc, result.held_out.ks,
             command.users, command.out.string());
  return 0;
}

void print_explanation(const Features& features, const Explanation& explanation) {
  fmt::print("features:\n");
  for (std::size_t i = 0; i < feature_count; ++i) {
    fmt::print("  {:<26} {:>12}\n", spec(feature_at(i)).name, features.values[i]);
  }
  fmt::print("score {}  (base {} points)\n", explanation.score, explanation.base_points);
  for (std::size_t d = 0; d < dimension_count; ++d) {
    fmt::print("  {:<14} {:>+5} points\n", name(static_cast<Dimension>(d)),
               explanation.dimension_points[d]);
  }
  fmt::print("top reasons:\n");
  for (std::size_t i = 0; i < explanation.reason_count; ++i) {
    const Reason& reason = explanation.reasons[i];
    fmt::print("  {} ({} = {}): {} points below the best\n", spec(reason.feature).reason,
               spec(reason.feature).name, reason.value, reason.points_lost);
  }
  const CreditTier tier = credit_tier(explanation.score);
  fmt::print("deposit waiver: {}  700+ privileges: {}  credit tier {} (line {}.{:02} CNY)\n",
             deposit_waiver(explanation.score) ? "yes" : "no",
             privileged(explanation.score) ? "yes" : "no", tier.tier,
             tier.credit_line_fen / 100, tier.credit_line_fen % 100);
}

int run_score(const ScoreCommand& command) {
  std::vector<CreditEvent> events;
  for (const std::string& text : command.events) {
    const std::optional<CreditEvent> event = parse_credit_event(text);
    if (!event) {
      fmt::print(stderr, "credit score: bad --event '{}' ({})\n", text, credit_event_forms);
      return 2;
    }
    events.push_back(*event);
  }
  const std::optional<Model> model = load(command.model, "score");
  if (!model) return 1;
  const Scorecard scorecard(*model);
  CreditState state(scorecard, generate_user(command.seed, command.user).features);
  for (std::size_t i = 0; i < events.size(); ++i) {
    const std::int32_t before = state.score();
    const std::int32_t after = state.apply(events[i]);
    if (!command.json) fmt::print("event {}: score {} -> {}\n", command.events[i], before, after);
  }
  const Explanation explanation = scorecard.explain(state.features());
  if (command.json) {
    fmt::print("{}\n", explanation_json(command.user, *model, explanation));
  } else {
    fmt::print("user {} of population {} (model {})\n", command.user, command.seed, model->name);
    print_explanation(state.features(), explanation);
  }
  return 0;
}

int run_rescore(const RescoreCommand& command) {
  if (command.users == 0) {
    fmt::print(stderr, "credit rescore: need --users >= 1\n");
    return 2;
  }
  const std::optional<Model> model = load(command.model, "rescore");
  if (!model) return 1;
  fmt::print(stderr, "generating the features of {} users (seed {})...\n", command.users,
             command.seed);
  std::vector<Features> features;
  features.reserve(command.users);
  for (std::uint64_t user = 0; user < command.users; ++user) {
    features.push_back(generate_user(command.seed, user).features);
  }

  fmt::print(stderr, "rescoring with model {}...\n", model->name);
  const Scorecard scorecard(*model);
  std::vector<std::int32_t> scores(command.users);
  std::array<std::int64_t, dimension_count> dimension_totals{};
  auto last_report = Clock::now();
  const auto started = Clock::now();
  const double cpu_started = thread_cpu_seconds();
  for (std::uint64_t begin = 0; begin < command.users; begin += rescore_chunk_users) {
    const std::uint64_t end = std::min(command.users, begin + rescore_chunk_users);
    for (std::uint64_t user = begin; user < end; ++user) {
      const Explanation explanation = scorecard.explain(features[user]);
      scores[user] = explanation.score;
      for (std::size_t d = 0; d < dimension_count; ++d) {
        dimension_totals[d] += explanation.dimension_points[d];
      }
    }
    if (Clock::now() - last_report > std::chrono::seconds(1)) {
      last_report = Clock::now();
      const double seconds = seconds_since(started);
      fmt::print(stderr, "  {:>5.1f}s  {:>5.1f}%  {:>12.0f} users/s\n", seconds,
                 100.0 * static_cast<double>(end) / static_cast<double>(command.users),
                 static_cast<double>(end) / seconds);
    }
  }
  const double seconds = seconds_since(started);
  const double cpu_seconds = thread_cpu_seconds() - cpu_started;
  const double users_per_s = static_cast<double>(command.users) / seconds;

  const auto share = [&](auto predicate) {
    return 100.0 * static_cast<double>(std::count_if(scores.begin(), scores.end(), predicate)) /
           static_cast<double>(command.users);
  };
  const double waiver_pct = share([](std::int32_t s) { return deposit_waiver(s); });
  const double privileged_pct = share([](std::int32_t s) { return privileged(s); });
  std::vector<std::int64_t> tier_users(credit_tier_line_fen.size(), 0);
  for (const std::int32_t s : scores) ++tier_users[credit_tier(s).tier];
  std::sort(scores.begin(), scores.end());
  fmt::print(stderr,
             "{} users in {:.3f} s ({:.3f} s of CPU: {:.0f} users per CPU second); score p10 {} "
             "p50 {} p90 {}; mean points by dimension:",
             command.users, seconds, cpu_seconds, static_cast<double>(command.users) / cpu_seconds,
             scores[scores.size() / 10], scores[scores.size() / 2], scores[scores.size() * 9 / 10]);
  for (std::size_t d = 0; d < dimension_count; ++d) {
    fmt::print(stderr, " {} {:+.1f}", name(static_cast<Dimension>(d)),
               static_cast<double>(dimension_totals[d]) / static_cast<double>(command.users));
  }
  fmt::print(stderr, "\nusers per credit tier:");
  for (std::size_t tier = 0; tier < tier_users.size(); ++tier) {
    fmt::print(stderr, " {}:{}", tier, tier_users[tier]);
  }
  fmt::print(stderr, "\n");
  fmt::print("rescored={} users_per_s={:.0f} score_p50={} waiver_pct={:.1f} privileged_pct={:.1f} "
             "model={}\n",
             command.users, users_per_s, scores[scores.size() / 2], waiver_pct, privileged_pct,
             command.model.string());
  return 0;
}

}  // namespace

void add_credit_commands(const Commands& commands) {
  auto* credit = commands.app.add_subcommand("credit", "Credit score: train, score, rescore");
  credit->require_subcommand(1);

  auto train_command = std::make_shared<TrainCommand>();
  auto* train = credit->add_subcommand(
      "train", "Train the scorecard on a synthetic population; report held-out AUC and KS");
  train->add_option("--users", train_command->users, "Users to generate (1 in 4 held out)")
      ->capture_default_str();
  train->add_option("--seed", train_command->seed, "Population seed")->capture_default_str();
  train->add_option("--name", train_command->name, "Model name written in the file")
      ->capture_default_str();
  train->add_option("--out", train_command->out, "Model file to write")->capture_default_str();
  train->callback([=, &exit_code = commands.exit_code] { exit_code = run_train(*train_command); });

  auto score_command = std::make_shared<ScoreCommand>();
  auto* score = credit->add_subcommand(
      "score", "Score and explain one synthetic user, optionally after events");
  score->add_option("--user", score_command->user, "User index in the population")->required();
  score->add_option("--seed", score_command->seed, "Population seed")->capture_default_str();
  score->add_option("--model", score_command->model, "Model file")->capture_default_str();
  score->add_option("--event", score_command->events,
                    fmt::format("Apply an event first (repeatable): {}", credit_event_forms));
  score->add_flag("--json", score_command->json, "Print the explanation as JSON");
  score->callback([=, &exit_code = commands.exit_code] { exit_code = run_score(*score_command); });

  auto rescore_command = std::make_shared<RescoreCommand>();
  auto* rescore = credit->add_subcommand(
      "rescore", "Rescore a whole synthetic population; report throughput");
  rescore->add_option("--users", rescore_command->users, "Users to rescore")->capture_default_str();
  rescore->add_option("--seed", rescore_command->seed, "Population seed")->capture_default_str();
  rescore->add_option("--model", rescore_command->model, "Model file")->capture_default_str();
  rescore->callback(
      [=, &exit_code = commands.exit_code] { exit_code = run_rescore(*rescore_command); });
}

}  // namespace capillary::cli
