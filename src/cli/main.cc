// The `capillary` command: one binary for operators — serve, verify, replay, status, bench and
// the tools of each product module. Each command family registers itself from its own file
// (cli/commands.h), so adding one touches this file by a single line.

#include <CLI/CLI.hpp>
#include <malloc.h>

#include <climits>

#include "cli/commands.h"

namespace {

// Memory freed stays in the process for the next allocation instead of going back to the kernel,
// for allocations up to 32 MiB (glibc's most) as well as small ones. Mapping fresh pages, not
// copying, is what a large copy costs: a fault a page, and on virtual machines with shadow page
// tables ~18 µs a page, so 160 MB copied into fresh memory takes ~0.7 s and into reused memory
// ~10 ms. A checkpoint copies and frees hundreds of megabytes of changed chunks every few seconds.
void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace capillary::cli;
  keep_freed_memory();
  CLI::App app{"Capillary: a durable, deterministic payment platform"};
  app.require_subcommand(1);
  auto* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);

  int exit_code = 2;
  const Commands commands{app, *bench, exit_code};
  add_operator_commands(commands);
  add_ledger_bench(commands);
  add_http_bench(commands);
  add_load_commands(commands);
  add_auth_commands(commands);
  add_notify_bench(commands);
  add_risk_bench(commands);
  add_bank_sim_commands(commands);
  add_credit_commands(commands);
  add_fund_bench(commands);
  add_wealth_bench(commands);
  add_payments_state_bench(commands);

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
