#pragma once
// The command families behind `capillary <command>`. Each `add_*` registers its subcommands on
// `app` (or under `bench`) with a callback that runs the command and stores its exit code:
// 0 success, 1 a failure found (corruption, broken invariant, I/O), 2 bad usage.

#include <CLI/CLI.hpp>

namespace capillary::cli {

struct Commands {
  CLI::App& app;
  CLI::App& bench;
  int& exit_code;
};

void add_operator_commands(const Commands& commands);  // serve, verify, replay, status
void add_ledger_bench(const Commands& commands);       // bench ledger
void add_http_bench(const Commands& commands);         // bench http
void add_load_commands(const Commands& commands);      // load 12-12-6
void add_auth_commands(const Commands& commands);      // credentials, bench auth
void add_notify_bench(const Commands& commands);       // bench notify
void add_risk_bench(const Commands& commands);        // bench risk
void add_bank_sim_commands(const Commands& commands);  // bank-sim, bench channels
void add_credit_commands(const Commands& commands);    // credit train, score, rescore
void add_fund_bench(const Commands& commands);         // bench fund-income
void add_wealth_bench(const Commands& commands);       // bench wealth
void add_payments_state_bench(const Commands& commands);  // bench payments-state

}  // namespace capillary::cli
