#include "cli/bench_risk.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "risk/engine.h"
#include "risk/generator.h"

namespace capillary::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Events generated ahead of each timed stretch: 64 Ki events (~6 MiB) keeps generation out of the
// timings without holding the whole stream in memory.
constexpr std::size_t chunk_events = 1u << 16;

struct Tally {
  std::array<std::uint64_t, risk::fraud_kinds> events{}, stopped{};
  std::vector<bool> case_seen, case_stopped;  // by case id
  std::uint64_t payments = 0, payments_no_password = 0;
  // Stopped events by the rule that decided them, for normal and for fraud events.
  std::map<std::string, std::array<std::uint64_t, 2>> stopped_by_rule;

  void add(const risk::Engine& engine, const risk::LabelledEvent& labelled,
           const risk::Decision& decision) {
    const auto kind = static_cast<std::size_t>(labelled.fraud);
    const bool stop = decision.action != risk::Action::allow;
    events[kind] += 1;
    stopped[kind] += stop;
    if (stop) {
      const std::string rule =
          decision.rule_count > 0 ? engine.explain(decision).rules.front().name : "(none)";
      stopped_by_rule[rule][labelled.fraud == risk::FraudKind::none ? 0 : 1] += 1;
    }
    if (labelled.case_id != 0) {
      if (labelled.case_id >= case_seen.size()) {
        case_seen.resize(labelled.case_id + 1);
        case_stopped.resize(labelled.case_id + 1);
      }
      case_seen[labelled.case_id] = true;
      if (stop) case_stopped[labelled.case_id] = true;
    }
    if (labelled.fraud == risk::FraudKind::none &&
        labelled.event.kind == risk::EventKind::payment) {
      payments += 1;
      payments_no_password += decision.no_password();
    }
  }
};

std::chrono::nanoseconds thread_cpu_time() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

double ratio(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

bool load_rules_file(risk::Engine& engine, const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    fmt::print(stderr, "bench risk: cannot read {}\n", path.string());
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  const risk::RulesOutcome loaded = engine.load_rules(text.str());
  if (!loaded.ok()) {
    fmt::print(stderr, "bench risk: {} has errors:\n{}\n", path.string(), loaded.message());
    return false;
  }
  return engine.activate(loaded.version).is_ok();
}

void print_breakdown(const Tally& tally) {
  for (std::size_t kind = 1; kind < risk::fraud_kinds; ++kind) {
    fmt::print(stderr, "bench risk: {:<18} events={:<8} caught={:.4f}\n",
               risk::fraud_kind_name(static_cast<risk::FraudKind>(kind)), tally.events[kind],
               ratio(tally.stopped[kind], tally.events[kind]));
  }
  std::uint64_t cases = 0, cases_stopped = 0;
  for (std::size_t id = 0; id < tally.case_seen.size(); ++id) {
    cases += tally.case_seen[id];
    cases_stopped += tally.case_stopped[id];
  }
  fmt::print(stderr, "bench risk: fraud cases={} with at least one event stopped={:.4f}\n", cases,
             ratio(cases_stopped, cases));
  for (const auto& [rule, counts] : tally.stopped_by_rule) {
    fmt::print(stderr, "bench risk: rule {:<24} stopped normal={:<8} fraud={}\n", rule, counts[0],
               counts[1]);
  }
  fmt::print(stderr, "bench risk: normal payments passed without a password={:.4f}\n",
             ratio(tally.payments_no_password, tally.payments));
}

}  // namespace

int run_risk_bench(const RiskBenchOptions& options) {
  if (options.events == 0) {
    fmt::print(stderr, "bench risk: --events must be positive\n");
    return 2;
  }
  risk::Generator generator({.seed = options.seed, .events = options.events});
  risk::Engine engine;
  if (!options.rules.empty() && !load_rules_file(engine, options.rules)) return 2;
  const risk::World& world = generator.world();
  for (const auto& [user, group] : world.families) engine.link_family(user, group);
  for (std::uint64_t user : world.flagged) engine.flag_account(user, true);
  for (const auto& [a, b] : world.counterparties) engine.link_counterparties(a, b);
  for (const auto& [merchant, level] : world.merchant_risk)
    engine.set_merchant_risk(merchant, level);
  for (const risk::Event& event : world.history) {
    if (engine.decide(event).action == risk::Action::challenge) engine.confirm(event);
  }
  fmt::print(stderr, "bench risk: users' earlier history replayed: {} events, untimed\n",
             world.history.size());

  std::vector<risk::LabelledEvent> chunk;
  chunk.reserve(chunk_events);
  std::vector<std::uint32_t> latencies_ns;
  latencies_ns.reserve(options.events);
  Tally tally;
  Clock::duration deciding{};
  std::chrono::nanoseconds deciding_cpu{};
  auto last_report = Clock::now();
  for (std::uint64_t done = 0; done < options.events;) {
    chunk.clear();
    const std::uint64_t size = std::min<std::uint64_t>(chunk_events, options.events - done);
    for (std::uint64_t i = 0; i < size; ++i) chunk.push_back(generator.next());
    const auto started = Clock::now();
    const auto started_cpu = thread_cpu_time();
    for (const risk::LabelledEvent& labelled : chunk) {
      const auto before = Clock::now();
      const risk::Decision decision = engine.decide(labelled.event);
      const auto after = Clock::now();
      // The holder passes a challenge; an attacker does not.
      if (decision.action == risk::Action::challenge && labelled.fraud == risk::FraudKind::none) {
        engine.confirm(labelled.event);
      }
      latencies_ns.push_back(
          static_cast<std::uint32_t>(std::min<std::int64_t>(UINT32_MAX, (after - before).count())));
      tally.add(engine, labelled, decision);
    }
    deciding += Clock::now() - started;
    deciding_cpu += thread_cpu_time() - started_cpu;
    done += size;
    if (Clock::now() - last_report >= std::chrono::seconds(1) || done == options.events) {
      last_report = Clock::now();
      fmt::print(stderr,
                 "bench risk: {}/{} events, {:.0f} decisions per CPU second, {:.0f} per "
                 "wall-clock second\n",
                 done, options.events,
                 static_cast<double>(done) / std::chrono::duration<double>(deciding_cpu).count(),
                 static_cast<double>(done) / std::chrono::duration<double>(deciding).count());
    }
  }
  print_breakdown(tally);

  const std::size_t p99_index = latencies_ns.size() * 99 / 100;
  std::nth_element(latencies_ns.begin(), latencies_ns.begin() + p99_index, latencies_ns.end());
  std::uint64_t fraud = 0, fraud_stopped = 0;
  for (std::size_t kind = 1; kind < risk::fraud_kinds; ++kind) {
    fraud += tally.events[kind];
    fraud_stopped += tally.stopped[kind];
  }
  // Throughput per second of the core's time this thread actually got: on a shared machine,
  // wall-clock time also counts the time other processes held the core (shown above).
  const double seconds = std::chrono::duration<double>(deciding_cpu).count();
  fmt::print("decisions_per_s={:.0f} p99_us={:.1f} catch_rate={:.4f} false_positive_rate={:.4f}\n",
             static_cast<double>(options.events) / seconds, latencies_ns[p99_index] / 1000.0,
             ratio(fraud_stopped, fraud), ratio(tally.stopped[0], tally.events[0]));
  return 0;
}

void add_risk_bench(const Commands& commands) {
  auto options = std::make_shared<RiskBenchOptions>();
  auto* bench = commands.bench.add_subcommand(
      "risk", "Risk decisions on a labelled synthetic event stream, one thread");
  bench->add_option("--events", options->events, "Events to decide")->capture_default_str();
  bench->add_option("--seed", options->seed, "Random seed of the stream")->capture_default_str();
  bench->add_option("--rules", options->rules, "Rules file to use instead of the built-in rules")
      ->check(CLI::ExistingFile);
  bench->callback([=, &exit_code = commands.exit_code] { exit_code = run_risk_bench(*options); });
}

}  // namespace capillary::cli
