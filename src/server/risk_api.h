#pragma once
// The risk control routes (docs/risk.md "HTTP endpoints"): a user's decision log with its reasons,
// and the rules' life cycle (validate, load, activate, shadow, list). Rules belong to the platform;
// a user may read its own decisions and no one else's. The risk engine answers at once (its locks
// are held for microseconds), so every route answers on the io thread that received it.

#include <cstdint>
#include <string_view>

#include "auth/auth.h"
#include "risk/engine.h"
#include "server/metrics.h"
#include "server/routes.h"

namespace capillary::server {

// Decisions a log read returns when the query names no limit.
inline constexpr std::size_t decisions_per_read_default = 50;
static_assert(decisions_per_read_default <= risk::decisions_per_query_max);

class RiskApi {
 public:
  // Both must outlive the object.
  RiskApi(risk::Engine& risk, const auth::Keyring& keyring, Metrics& metrics);
  RiskApi(const RiskApi&) = delete;
  RiskApi& operator=(const RiskApi&) = delete;

  static bool handles(std::string_view target);
  void handle(const Request& request, Respond respond) noexcept;

 private:
  void decisions(const Call& call, const auth::Principal& principal, std::string_view id,
                 std::string_view query) const;
  void rules(const Request& request, const Call& call, std::string_view action);
  void list(const Call& call) const;
  void shadow(std::string& body, const Call& call);

  risk::Engine& risk_;
  const auth::Keyring& keyring_;
  Metrics& metrics_;
};

}  // namespace capillary::server
