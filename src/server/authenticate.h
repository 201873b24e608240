#pragma once
// The signature check every authenticated route family does first (docs/auth.md): verify the
// request against the keyring at the current wall-clock second, or answer 401 naming why.

#include <optional>

#include "auth/auth.h"
#include "server/call.h"
#include "server/routes.h"

namespace capillary::server {

// The caller, or nothing once `call` has been answered with a 401.
std::optional<auth::Principal> authenticate(const auth::Keyring& keyring, const Request& request,
                                            const Call& call);

}  // namespace capillary::server
