#pragma once
// The operator commands behind `capillary <command>`. Each returns the process exit code:
// 0 success, 1 a failure found (corruption, broken invariant, I/O), 2 bad usage.

#include <filesystem>
#include <string>

namespace capillary::cli {

struct ServeOptions {
  std::string listen;
  std::filesystem::path data_dir;
  int threads = 2;
};

int run_serve(const ServeOptions& options);
int run_verify(const std::filesystem::path& data_dir);
int run_replay(const std::filesystem::path& data_dir);
int run_status(const std::filesystem::path& data_dir);

}  // namespace capillary::cli
