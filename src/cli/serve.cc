// `capillary serve`: the engine behind the HTTP API.

#include <fmt/format.h>

#include "cli/commands.h"

namespace capillary::cli {

int run_serve(const ServeOptions&) {
  fmt::print(stderr, "serve: the HTTP server is not built yet\n");
  return 1;
}

}  // namespace capillary::cli
