// The `capillary` command: one binary for operators — serve, verify, replay, status, bench and
// the tools of each product module. Each command family registers itself from its own file
// (cli/commands.h), so adding one touches this file by a single line.

#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  using namespace capillary::cli;
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
