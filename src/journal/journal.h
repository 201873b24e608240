#pragma once
// Reading and appending the journal (format in journal/format.h).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>

#include "core/status.h"
#include "journal/format.h"

namespace capillary::journal {

// Where recovery found the end of the journal, for the writer to carry on from.
struct End {
  std::uint64_t last_sequence = 0;        // 0 when the journal is empty
  std::uint64_t last_timestamp = 0;
  std::filesystem::path segment;          // empty when there is no segment yet
  std::uint64_t offset = 0;               // first free byte of `segment`
  std::uint64_t torn_bytes_cut = 0;       // non-zero bytes of a torn last entry that were cut
};

using Visitor = std::function<Status(const EntryHeader& header, std::span<const std::byte> body)>;

// Reads every segment of `directory` in order and calls `visit` for each valid entry. A torn last
// entry is cut (zeroed and synced) and reported in End; any other damage — a bad checksum followed
// by valid entries, a gap in sequences, a segment whose name disagrees with its first entry —
// returns a corruption Status naming the file and byte offset, and nothing is cut. When `repair`
// is false a torn tail is reported but left on disk (for read-only commands such as verify).
Status recover(const std::filesystem::path& directory, bool repair, const Visitor& visit,
               End* end);

class Writer {
 public:
  // `end` is what recover() returned for the same directory. With `sync` off, appends are not
  // fdatasync'd: only for benchmarks that measure the engine without the disk.
  static Status open(const std::filesystem::path& directory, const End& end, bool sync,
                     std::unique_ptr<Writer>* writer);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Appends the next entry. Fills in sequence, checksums, version and magic; the caller sets
  // timestamp, state_hash, kind, event_count and body_bytes. Returns once the entry is durable.
  // An I/O error here leaves the journal in an unknown state; the engine stops on it.
  Status append(EntryHeader header, std::span<const std::byte> body);

  // Deletes every segment all of whose entries have sequence < `sequence` (they are covered by a
  // checkpoint). The segment being written is never deleted.
  Status remove_segments_before(std::uint64_t sequence);

  std::uint64_t next_sequence() const { return next_sequence_; }
  std::uint64_t bytes_written() const { return bytes_written_; }

 private:
  Writer(std::filesystem::path directory, bool sync);
  Status open_segment(const std::filesystem::path& path, std::uint64_t offset);
  Status start_segment(std::uint64_t first_sequence);
  void reserve_blocks(std::size_t bytes);

  std::filesystem::path directory_;
  bool sync_;
  int fd_ = -1;
  // Synced appends go to the disk directly (O_DIRECT) in whole blocks, from `blocks_`: the
  // partly written last block of the segment, then each new entry after it.
  struct FreeBlocks {
    void operator()(std::byte* blocks) const { std::free(blocks); }
  };
  std::unique_ptr<std::byte, FreeBlocks> blocks_;
  std::size_t blocks_capacity_ = 0;
  std::filesystem::path segment_;
  std::uint64_t offset_ = 0;
  std::uint64_t next_sequence_ = 1;
  std::uint64_t bytes_written_ = 0;
};

// An upper bound on the events the journal holds (its segments' bytes over the smallest event),
// for sizing tables before a replay.
std::uint64_t events_bound(const std::filesystem::path& directory);

std::filesystem::path segment_path(const std::filesystem::path& directory,
                                   std::uint64_t first_sequence);

}  // namespace capillary::journal
