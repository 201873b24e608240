#pragma once
// A RocksDB status as the project's Status, `what` naming the operation that returned it.

#include <fmt/format.h>
#include <rocksdb/status.h>

#include <string>
#include <string_view>

#include "core/status.h"

namespace capillary::store {

inline Status from_rocksdb(const rocksdb::Status& status, std::string_view what) {
  if (status.ok()) return Status::ok();
  if (status.IsNotFound()) return Status::not_found(std::string(what));
  if (status.IsCorruption()) return Status::corruption(fmt::format("{}: {}", what, status.ToString()));
  return Status::io_error(fmt::format("{}: {}", what, status.ToString()));
}

}  // namespace capillary::store
