#include "server/authenticate.h"

#include <chrono>
#include <string>

namespace capillary::server {

std::optional<auth::Principal> authenticate(const auth::Keyring& keyring, const Request& request,
                                            const Call& call) {
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const auth::Verification verified = keyring.verify(
      {request.method, request.target, request.body, request.key_id, request.timestamp, request.signature},
      now_s);
  if (verified.result != auth::VerifyResult::ok) {
    call.fail({401, auth::name(verified.result), std::string(auth::describe(verified.result)), {}});
    return std::nullopt;
  }
  return verified.principal;
}

}  // namespace capillary::server
