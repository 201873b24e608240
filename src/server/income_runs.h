#pragma once
// Drives declared fund income runs to the end (docs/fund.md): once a fund company declares a
// day's income, a run pays its holders in steps, each a journaled fund_income_step command of the
// platform, so a crash loses at most the step in flight and the run resumes where the journal
// says it stopped. At start every run the state shows unfinished is resumed.
//
// A step's command id is derived from (fund, day, the register slot it starts at), so a step sent
// again after a restart is recognized as the one already applied and never pays twice.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>

#include "engine/engine.h"

namespace capillary::server {

class IncomeRuns {
 public:
  // Holders a step pays: large enough that a 100-million-holder run takes a thousand journal
  // entries, small enough that a step holds the engine for milliseconds, not seconds.
  static constexpr std::uint32_t step_holders_default = 100'000;

  // Resumes the runs in progress in `engine`'s state.
  IncomeRuns(engine::Engine& engine, std::uint32_t step_holders);
  ~IncomeRuns();
  IncomeRuns(const IncomeRuns&) = delete;
  IncomeRuns& operator=(const IncomeRuns&) = delete;

  // Drives the run of (fund, day), declared by `company`; a run already driven is left alone.
  void start(std::uint64_t fund, std::uint64_t day, std::uint64_t company);

 private:
  struct Run {
    std::uint64_t fund, day, company;
  };
  void drive();
  void finish(const Run& run);

  engine::Engine& engine_;
  const std::uint32_t step_holders_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Run> runs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace capillary::server
