#pragma once
// The operator commands: serve, verify, replay, status. Each returns the process exit code.

#include <filesystem>
#include <string>

namespace capillary::cli {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::filesystem::path data_dir = "./data";
  int threads = 2;
  // Bank channels for card operations: the channel config and the bank (or simulator) address.
  std::filesystem::path banks;
  std::string bank_sim;  // HOST:PORT
  // The credit model GET /v1/credit/users/{id} scores with; empty: the shipped one when present.
  std::filesystem::path credit_model;
  // Lets the platform move business time forward (POST /v1/platform/clock): test and simulation
  // servers only.
  bool adjustable_clock = false;
  std::uint32_t income_step_holders = 100'000;  // holders each step of a fund income run pays
  // Journal written between checkpoints (engine::Options::checkpoint_journal_bytes): more makes
  // recovery replay longer and checkpoints rarer.
  std::uint32_t checkpoint_mib = 256;
};

int run_serve(const ServeOptions& options);
int run_verify(const std::filesystem::path& data_dir);
int run_replay(const std::filesystem::path& data_dir);
int run_status(const std::filesystem::path& data_dir);

}  // namespace capillary::cli
