#include "server/income_runs.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "core/this_thread.h"
#include "payments/command.h"
#include "server/product_json.h"

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
  thread_ = std::thread([this] {
    name_this_thread("income-runs");
    drive();
  });
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
// process, or never declared), checking for shutdown between steps. The log shows the run start,
// every tenth of its holders, and its end.
void IncomeRuns::finish(const Run& run) {
  const auto started = std::chrono::steady_clock::now();
  const std::string day = format_date(run.day);
  std::uint32_t logged_tenths = 0;
  bool first = true;
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    std::optional<fund::IncomeRun> now;
    engine_.read([&](const engine::State& state) {
      if (const fund::IncomeRun* found = state.payments.funds().find_run(run.fund, run.day)) now = *found;
    });
    if (!now) return;
    const std::uint32_t tenths = now->holders == 0 ? 10 : static_cast<std::uint32_t>(std::uint64_t{now->cursor} * 10 / now->holders);
    if (now->done != 0) {
      if (!first) {
        fmt::print(stderr, "capillary: fund {} income for {} paid: {} fen to {} of {} holders, residue {} fen, {:.1f} s\n",
                   run.fund, day, now->credited, now->paid, now->holders, now->residue,
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      }
      return;
    }
    if (first) {
      fmt::print(stderr, "capillary: fund {} income for {}: paying {} holders from slot {}, {} fen declared\n",
                 run.fund, day, now->holders, now->cursor, now->declared);
    } else if (tenths > logged_tenths) {
      fmt::print(stderr, "capillary: fund {} income for {}: {}% of holders\n", run.fund, day, tenths * 10);
    }
    logged_tenths = tenths;
    first = false;
    payments::Command step{};
    const std::uint64_t key[3] = {run.fund, run.day, now->cursor};
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
