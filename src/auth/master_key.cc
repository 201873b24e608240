#include "auth/master_key.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace capillary::auth {
namespace {

namespace fs = std::filesystem;

constexpr mode_t key_file_mode = 0600;

Status errno_status(std::string_view what, const fs::path& path) {
  return Status::io_error(fmt::format("{} {}: {}", what, path.string(), std::strerror(errno)));
}

// Writes the key and makes both the file and its directory entry durable before returning, so a
// crash can never leave a server that issued secrets from a key that is then gone.
Status create(const fs::path& directory, const fs::path& path, MasterKey* key) {
  if (RAND_bytes(key->data(), static_cast<int>(key->size())) != 1) {
    return Status::io_error("master key: the system's random source failed");
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, key_file_mode);
  if (fd < 0) return errno_status("create", path);
  const bool written = ::fchmod(fd, key_file_mode) == 0 &&
                       ::write(fd, key->data(), key->size()) == static_cast<ssize_t>(key->size()) &&
                       ::fsync(fd) == 0;
  const Status status = written ? Status::ok() : errno_status("write", path);
  ::close(fd);
  if (!status.is_ok()) return status;
  const int directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory_fd < 0) return errno_status("open", directory);
  const bool synced = ::fsync(directory_fd) == 0;
  ::close(directory_fd);
  return synced ? Status::ok() : errno_status("fsync", directory);
}

Status load(const fs::path& path, MasterKey* key) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("open", path);
  struct stat info {};
  Status status = Status::ok();
  if (::fstat(fd, &info) != 0) {
    status = errno_status("stat", path);
  } else if ((info.st_mode & 077) != 0) {
    status = Status::invalid_argument(
        fmt::format("{} has mode {:o}: group and others must have no access (chmod 600)",
                    path.string(), info.st_mode & 0777));
  } else if (info.st_size != static_cast<off_t>(key->size())) {
    status = Status::corruption(
        fmt::format("{} holds {} bytes, not {}", path.string(), info.st_size, key->size()));
  } else if (::read(fd, key->data(), key->size()) != static_cast<ssize_t>(key->size())) {
    status = errno_status("read", path);
  }
  ::close(fd);
  return status;
}

}  // namespace

Status load_or_create_master_key(const fs::path& data_dir, MasterKey* key) {
  std::error_code error;
  fs::create_directories(data_dir, error);
  if (error)
    return Status::io_error(fmt::format("create {}: {}", data_dir.string(), error.message()));
  const fs::path path = data_dir / master_key_file;
  if (fs::exists(path, error)) return load(path, key);
  return create(data_dir, path, key);
}

}  // namespace capillary::auth
