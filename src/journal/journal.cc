#include "journal/journal.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <vector>

#include "core/assert.h"
#include "core/checksum.h"
#include "core/limits.h"

namespace capillary::journal {
namespace {

namespace fs = std::filesystem;

Status errno_status(std::string_view what, const fs::path& path) {
  return Status::io_error(fmt::format("{} {}: {}", what, path.string(), std::strerror(errno)));
}

std::uint64_t header_checksum(const EntryHeader& header) {
  return checksum(reinterpret_cast<const std::byte*>(&header) + 8, sizeof(EntryHeader) - 8);
}

bool header_valid(const EntryHeader& header) {
  return header.magic == entry_magic && header.version == format_version &&
         header.header_checksum == header_checksum(header);
}

bool all_zero(const std::byte* data, std::size_t size) {
  return std::all_of(data, data + size, [](std::byte b) { return b == std::byte{0}; });
}

Status sync_directory(const fs::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return errno_status("open directory", directory);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return errno_status("fsync directory", directory);
  return Status::ok();
}

// Segments sorted by their first sequence (the file name).
Status list_segments(const fs::path& directory, std::vector<std::pair<std::uint64_t, fs::path>>* out) {
  std::error_code error;
  if (!fs::exists(directory, error)) return Status::ok();
  for (const auto& item : fs::directory_iterator(directory, error)) {
    const fs::path& path = item.path();
    if (path.extension() != ".seg") continue;
    const std::string stem = path.stem().string();
    if (stem.size() != 20 || !std::all_of(stem.begin(), stem.end(), ::isdigit)) {
      return Status::corruption(fmt::format("journal: unexpected segment name {}", path.string()));
    }
    out->emplace_back(std::stoull(stem), path);
  }
  if (error) return Status::io_error(fmt::format("list {}: {}", directory.string(), error.message()));
  std::sort(out->begin(), out->end());
  return Status::ok();
}

// A read-only view of a whole segment file.
class MappedSegment {
 public:
  Status open(const fs::path& path) {
    fd_ = ::open(path.c_str(), O_RDWR);
    if (fd_ < 0) return errno_status("open", path);
    struct stat info {};
    if (::fstat(fd_, &info) != 0) return errno_status("stat", path);
    size_ = static_cast<std::size_t>(info.st_size);
    if (size_ == 0) return Status::ok();
    void* data = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd_, 0);
    if (data == MAP_FAILED) return errno_status("mmap", path);
    data_ = static_cast<const std::byte*>(data);
    return Status::ok();
  }
  ~MappedSegment() {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
  }
  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

// Looks for a valid entry header anywhere after `offset`: if one exists, the bad entry at
// `offset` cannot be a torn tail.
std::int64_t find_valid_header_after(const MappedSegment& segment, std::uint64_t offset) {
  for (std::uint64_t at = offset + entry_alignment; at + sizeof(EntryHeader) <= segment.size();
       at += entry_alignment) {
    EntryHeader header;
    std::memcpy(&header, segment.data() + at, sizeof header);
    if (header_valid(header)) return static_cast<std::int64_t>(at);
  }
  return -1;
}

Status cut_tail(const MappedSegment& segment, const fs::path& path, std::uint64_t offset,
                std::uint64_t* cut_bytes) {
  std::uint64_t last_nonzero = offset;
  for (std::uint64_t at = offset; at < segment.size(); ++at) {
    if (segment.data()[at] != std::byte{0}) last_nonzero = at + 1;
  }
  *cut_bytes = last_nonzero - offset;
  const std::vector<std::byte> zeros(*cut_bytes);
  if (::pwrite(segment.fd(), zeros.data(), zeros.size(), static_cast<off_t>(offset)) !=
      static_cast<ssize_t>(zeros.size())) {
    return errno_status("cut torn tail of", path);
  }
  if (::fdatasync(segment.fd()) != 0) return errno_status("fdatasync", path);
  return Status::ok();
}

}  // namespace

fs::path segment_path(const fs::path& directory, std::uint64_t first_sequence) {
  return directory / fmt::format("{:020}.seg", first_sequence);
}

std::uint64_t events_bound(const fs::path& directory) {
  std::vector<std::pair<std::uint64_t, fs::path>> segments;
  if (!list_segments(directory, &segments).is_ok()) return 0;
  std::uint64_t bytes = 0;
  std::error_code error;
  for (const auto& segment : segments) bytes += fs::file_size(segment.second, error);
  return bytes / smallest_event_bytes;
}

Status recover(const fs::path& directory, bool repair, const Visitor& visit, End* end) {
  std::vector<std::pair<std::uint64_t, fs::path>> segments;
  if (Status status = list_segments(directory, &segments); !status.is_ok()) return status;
  *end = End{};
  for (std::size_t index = 0; index < segments.size(); ++index) {
    const auto& [first_sequence, path] = segments[index];
    const bool last_segment = index + 1 == segments.size();
    MappedSegment segment;
    if (Status status = segment.open(path); !status.is_ok()) return status;
    if (end->last_sequence != 0 && first_sequence != end->last_sequence + 1) {
      return Status::corruption(fmt::format(
          "journal: {} should start at sequence {}, a segment is missing or misnamed",
          path.string(), end->last_sequence + 1));
    }
    std::uint64_t offset = 0;
    std::string damage;
    while (offset + sizeof(EntryHeader) <= segment.size()) {
      EntryHeader header;
      std::memcpy(&header, segment.data() + offset, sizeof header);
      if (all_zero(segment.data() + offset, sizeof header)) break;
      if (!header_valid(header)) {
        damage = "header checksum mismatch";
        break;
      }
      if (offset + entry_bytes(header) > segment.size()) {
        damage = "entry runs past the end of the segment";
        break;
      }
      const std::byte* body = segment.data() + offset + sizeof(EntryHeader);
      if (checksum(body, header.body_bytes) != header.body_checksum) {
        damage = "body checksum mismatch";
        break;
      }
      const std::uint64_t expected = end->last_sequence == 0 ? first_sequence : end->last_sequence + 1;
      if (header.sequence != expected) {
        return Status::corruption(
            fmt::format("journal: {} offset {}: sequence {} where {} was expected", path.string(),
                        offset, header.sequence, expected));
      }
      if (Status status = visit(header, {body, header.body_bytes}); !status.is_ok()) return status;
      end->last_sequence = header.sequence;
      end->last_timestamp = header.timestamp;
      offset += entry_bytes(header);
    }
    end->segment = path;
    end->offset = offset;
    if (damage.empty()) continue;
    const std::int64_t later = find_valid_header_after(segment, offset);
    if (!last_segment || later >= 0) {
      return Status::corruption(fmt::format(
          "journal: {} offset {}: {} with valid entries after it{}; refusing to start. "
          "The journal is damaged: restore it from a replica or backup",
          path.string(), offset, damage,
          later >= 0 ? fmt::format(" (offset {})", later) : std::string(" (in later segments)")));
    }
    if (repair) {
      if (Status status = cut_tail(segment, path, offset, &end->torn_bytes_cut); !status.is_ok()) {
        return status;
      }
    } else {
      end->torn_bytes_cut = 1;
    }
  }
  return Status::ok();
}

Writer::Writer(fs::path directory, bool sync) : directory_(std::move(directory)), sync_(sync) {}

Writer::~Writer() {
  if (fd_ >= 0) ::close(fd_);
}

Status Writer::open(const fs::path& directory, const End& end, bool sync,
                    std::unique_ptr<Writer>* writer) {
  std::error_code error;
  fs::create_directories(directory, error);
  if (error) {
    return Status::io_error(fmt::format("create {}: {}", directory.string(), error.message()));
  }
  std::unique_ptr<Writer> created(new Writer(directory, sync));
  created->next_sequence_ = end.last_sequence + 1;
  if (!end.segment.empty()) {
    if (Status status = created->open_segment(end.segment, end.offset); !status.is_ok()) {
      return status;
    }
  }
  *writer = std::move(created);
  return Status::ok();
}

// Direct writes must start, end and sit in memory at block boundaries; 4 KiB covers the logical
// block size of any disk.
constexpr std::size_t direct_block = 4096;

constexpr std::uint64_t block_floor(std::uint64_t offset) { return offset - offset % direct_block; }
constexpr std::uint64_t block_ceil(std::uint64_t offset) { return block_floor(offset + direct_block - 1); }

Status Writer::open_segment(const fs::path& path, std::uint64_t offset) {
  if (fd_ >= 0) ::close(fd_);
  // Synced appends bypass the page cache: filling it only to write it back at once cost more CPU
  // than the write (a fresh page allocated for every 4 KiB, then copied into), about half of the
  // journal thread's. A filesystem without direct I/O (tmpfs) gets buffered writes.
  fd_ = sync_ ? ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT) : -1;
  if (fd_ < 0) fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd_ < 0) return errno_status("open", path);
  // A segment whose preallocation was interrupted by a crash is finished here.
  if (::posix_fallocate(fd_, 0, static_cast<off_t>(journal_segment_bytes)) != 0) {
    return errno_status("preallocate", path);
  }
  segment_ = path;
  offset_ = offset;
  // Carrying on inside a block: its entries are written again with the next one.
  reserve_blocks(direct_block);
  if (offset % direct_block != 0 &&
      ::pread(fd_, blocks_.get(), direct_block, static_cast<off_t>(block_floor(offset))) !=
          static_cast<ssize_t>(direct_block)) {
    return errno_status("read last block of", path);
  }
  return Status::ok();
}

// Keeps the first `bytes` of the buffer (the partly written block) when it grows.
void Writer::reserve_blocks(std::size_t bytes) {
  if (bytes <= blocks_capacity_) return;
  const std::size_t capacity = std::max(block_ceil(bytes), 2 * blocks_capacity_);
  auto* grown = static_cast<std::byte*>(std::aligned_alloc(direct_block, capacity));
  CAP_ASSERT(grown != nullptr);
  if (blocks_capacity_ > 0) std::memcpy(grown, blocks_.get(), direct_block);
  blocks_.reset(grown);
  blocks_capacity_ = capacity;
}

Status Writer::start_segment(std::uint64_t first_sequence) {
  const fs::path path = segment_path(directory_, first_sequence);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status("create", path);
  ::close(fd);
  if (Status status = open_segment(path, 0); !status.is_ok()) return status;
  if (sync_ && ::fsync(fd_) != 0) return errno_status("fsync", path);
  return sync_ ? sync_directory(directory_) : Status::ok();
}

Status Writer::append(EntryHeader header, std::span<const std::byte> body) {
  CAP_ASSERT(header.body_bytes == body.size());
  header.sequence = next_sequence_;
  header.version = format_version;
  header.magic = entry_magic;
  header.reserved = 0;
  header.body_checksum = checksum(body.data(), body.size());
  header.header_checksum = header_checksum(header);
  const std::uint64_t size = entry_bytes(header);
  CAP_ASSERT(size <= journal_segment_bytes);
  if (fd_ < 0 || offset_ + size > journal_segment_bytes) {
    if (Status status = start_segment(header.sequence); !status.is_ok()) return status;
  }
  // The entry goes after the part of its first block already written, padded with zeros to
  // whole blocks: the journal's bytes after its last entry are zero.
  const std::uint64_t first_block = block_floor(offset_);
  const std::size_t kept = offset_ - first_block;
  const std::size_t length = block_ceil(kept + size);
  reserve_blocks(length);
  std::byte* const blocks = blocks_.get();
  std::memcpy(blocks + kept, &header, sizeof header);
  if (!body.empty()) std::memcpy(blocks + kept + sizeof header, body.data(), body.size());
  std::memset(blocks + kept + sizeof header + body.size(), 0, length - kept - sizeof header - body.size());
  for (std::size_t written = 0; written < length;) {
    const ssize_t wrote = ::pwrite(fd_, blocks + written, length - written,
                                   static_cast<off_t>(first_block + written));
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return errno_status("write", segment_);
    }
    written += static_cast<std::size_t>(wrote);
  }
  if (sync_ && ::fdatasync(fd_) != 0) return errno_status("fdatasync", segment_);
  // The new last block, if partly filled, stays at the front for the next entry.
  const std::uint64_t end = offset_ + size;
  if (end % direct_block != 0) {
    std::memmove(blocks, blocks + (block_floor(end) - first_block), end % direct_block);
  }
  offset_ += size;
  bytes_written_ += size;
  ++next_sequence_;
  return Status::ok();
}

Status Writer::remove_segments_before(std::uint64_t sequence) {
  std::vector<std::pair<std::uint64_t, fs::path>> segments;
  if (Status status = list_segments(directory_, &segments); !status.is_ok()) return status;
  // Segment i holds sequences [first_i, first_{i+1}); it can go when first_{i+1} <= sequence.
  for (std::size_t i = 0; i + 1 < segments.size(); ++i) {
    if (segments[i + 1].first > sequence || segments[i].second == segment_) break;
    std::error_code error;
    fs::remove(segments[i].second, error);
    if (error) {
      return Status::io_error(
          fmt::format("remove {}: {}", segments[i].second.string(), error.message()));
    }
  }
  return sync_directory(directory_);
}

}  // namespace capillary::journal
