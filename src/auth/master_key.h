#pragma once
// The platform's master key: 32 random bytes in `<data dir>/master.key`, from which every
// tenant's secret is derived (auth.h), so no secret is ever stored. Created with mode 0600 at the
// first start and loaded at every later one; a key file that group or others may read is refused,
// as ssh refuses a private key with loose permissions.

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "core/status.h"

namespace capillary::auth {

inline constexpr std::size_t master_key_bytes = 32;
inline constexpr std::string_view master_key_file = "master.key";

using MasterKey = std::array<std::uint8_t, master_key_bytes>;

// Loads `data_dir`/master.key, or creates it (and `data_dir`) from the system's CSPRNG when
// absent. Fails with `corruption` on a file of the wrong size, `invalid_argument` on loose
// permissions, `io_error` otherwise.
Status load_or_create_master_key(const std::filesystem::path& data_dir, MasterKey* key);

}  // namespace capillary::auth
