#include "server/income_runs.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <optional>

#include "payments/command.h"

namespace capillary::server {
namespace {

// Seeds step ids apart from the ids the API derives from idempotency keys.
constexpr std::uint64_t income_step_seed = 0x1c0e'5e1f;

}  // namespace

IncomeRuns::IncomeRuns(engine::Engine& engine, std::uint32_t step_holders)
    : engine_(engine), step_holders_(step_holders) {
  engine_.read([this](const engine::State& state) {
    for (const auto& [fund, day] : state.payments.funds().runs_in_progress()) {
      runs_.push_back({fund, day, state.payments.funds().find_fund(fund)->company});
    }
  });
  thread_ = std::thread([this] { drive(); });
}

IncomeRuns::~IncomeRuns() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void IncomeRuns::start(std::uint64_t fund, std::uint64_t day, std::uint64_t company) {
  {
    std::lock_guard lock(mutex_);
    const bool driven = std::any_of(runs_.begin(), runs_.end(),
                                    [&](const Run& run) { return run.fund == fund && run.day == day; });
    if (driven) return;
    runs_.push_back({fund, day, company});
  }
  wake_.notify_one();
}

void IncomeRuns::drive() {
  while (true) {
    Run run{};
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !runs_.empty(); });
      if (stopping_) return;
      run = runs_.front();
    }
    finish(run);
    std::lock_guard lock(mutex_);
    runs_.pop_front();
  }
}

// One step after another until the run is done (or is not running: finished by an earlier
// process, or never declared), checking for shutdown between steps.
void IncomeRuns::finish(const Run& run) {
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    std::optional<std::uint32_t> cursor;
    engine_.read([&](const engine::State& state) {
      const fund::IncomeRun* found = state.payments.funds().find_run(run.fund, run.day);
      if (found != nullptr && found->done == 0) cursor = found->cursor;
    });
    if (!cursor) return;
    payments::Command step{};
    const std::uint64_t key[3] = {run.fund, run.day, *cursor};
    step.id = XXH3_64bits_withSeed(key, sizeof(key), income_step_seed);
    step.principal = payments::principal(payments::PartyKind::platform, 0);
    step.kind = payments::CommandKind::fund_income_step;
    step.party = run.company;
    step.target = run.fund;
    step.a = run.day;
    step.b = step_holders_;
    const payments::Outcome outcome = engine_.execute({step})[0];
    if (outcome.result != payments::Result::ok) {
      fmt::print(stderr, "capillary: income run of fund {} for day {} stopped: {}\n", run.fund, run.day,
                 payments::description(outcome.result));
      return;
    }
  }
}

}  // namespace capillary::server
