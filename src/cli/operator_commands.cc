// Registers serve, verify, replay and status.

#include <memory>

#include "cli/commands.h"
#include "cli/operator.h"

namespace capillary::cli {

void add_operator_commands(const Commands& commands) {
  auto serve = std::make_shared<ServeOptions>();
  auto* serve_command = commands.app.add_subcommand("serve", "Run the HTTP API on the engine");
  serve_command->add_option("--listen", serve->listen, "HOST:PORT to listen on")
      ->capture_default_str();
  serve_command->add_option("--data", serve->data_dir, "Data directory")->capture_default_str();
  serve_command->add_option("--threads", serve->threads, "HTTP I/O threads")->capture_default_str();
  serve_command->add_option("--banks", serve->banks, "Bank channel config (config/banks.json) for card operations");
  serve_command->add_option("--bank-sim", serve->bank_sim,
                            "HOST:PORT of the banks (`capillary bank-sim`); needs --banks");
  serve_command->add_option("--credit-model", serve->credit_model,
                            "Credit model file (default: models/credit-v1.model when present)");
  serve_command->add_flag("--adjustable-clock", serve->adjustable_clock,
                          "Let the platform advance business time (tests and simulations only)");
  serve_command->add_option("--income-step-holders", serve->income_step_holders,
                            "Holders each journaled step of a fund income run pays")
      ->check(CLI::Range(1u, 4'000'000u))
      ->capture_default_str();
  serve_command->add_option("--checkpoint-mib", serve->checkpoint_mib,
                            "Journal MiB written between checkpoints: recovery replays at most this much")
      ->check(CLI::Range(16u, 65'536u))
      ->capture_default_str();
  serve_command->callback([serve, &exit_code = commands.exit_code] { exit_code = run_serve(*serve); });

  struct Inspect {
    const char* name;
    const char* description;
    int (*run)(const std::filesystem::path&);
  };
  for (const Inspect& inspect : {
           Inspect{"verify", "Rebuild the state from disk and check every invariant and the state hash",
                   run_verify},
           Inspect{"replay", "Replay the whole journal from its first entry and report the state and speed",
                   run_replay},
           Inspect{"status", "Show a data directory's journal, checkpoint and history", run_status},
       }) {
    auto data_dir = std::make_shared<std::filesystem::path>("./data");
    auto* command = commands.app.add_subcommand(inspect.name, inspect.description);
    command->add_option("--data", *data_dir, "Data directory")->capture_default_str();
    command->callback([data_dir, run = inspect.run, &exit_code = commands.exit_code] {
      exit_code = run(*data_dir);
    });
  }
}

}  // namespace capillary::cli
