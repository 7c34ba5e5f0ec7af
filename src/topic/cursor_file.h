// A named cursor of a journal topic: <journal dir>/cursors/<name>, one page holding the common
// file header and the committed position (with its seq and time). Kept beside the segments, so
// it survives whatever the segments survive (the bus in /dev/shm may not). Mapped read-write: a
// commit is three stores into the page cache, which a process crash cannot lose. An exclusive
// flock says the cursor is in use; the kernel drops it when its holder dies, even by kill -9.
// Protocol spec: docs/format.md section 4.8 and 9.8.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "log/file_header.h"
#include "base/file.h"
#include "base/mapped_file.h"

namespace shmbus::topic {

struct CursorState {
  log::FileHeader file;
  std::atomic<uint64_t> position;  // everything before it was committed
  std::atomic<uint64_t> seq;       // the seq of the record at `position` (for lag)
  std::atomic<int64_t> committed_ns;
};

struct CursorValue {
  std::string name;
  uint64_t position = 0;
  uint64_t seq = 0;
  int64_t committed_ns = 0;
  bool in_use = false;
};

class CursorFile {
 public:
  // Throws Error (kInvalidName) unless `name` is 1..64 of [A-Za-z0-9_-].
  static void validate_name(std::string_view name);
  static std::string dir_of(const std::string& journal_dir) { return journal_dir + "/cursors"; }

  // Opens the cursor `name` of the journal in `journal_dir`, creating it at (position, seq) if
  // it does not exist (`created` tells which), and takes it for this process. Throws Error:
  // kInvalidArgument if another live subscriber holds it, kCorrupt if the file is damaged.
  static CursorFile acquire(const std::string& journal_dir, const std::string& name, uint64_t position, uint64_t seq,
                            bool* created);
  CursorFile() = default;
  CursorFile(CursorFile&& other) noexcept = default;
  CursorFile& operator=(CursorFile&& other) noexcept = default;

  uint64_t position() const noexcept;
  uint64_t seq() const noexcept;
  // `sync`: msync the page before returning (journals with fsync `always`).
  void store(uint64_t position, uint64_t seq, bool sync) noexcept;

  // Every cursor of the journal, read without taking them.
  static std::vector<CursorValue> list(const std::string& journal_dir);
  // Sets a cursor (creating it) while no subscriber holds it. Throws Error.
  static void set(const std::string& journal_dir, const std::string& name, uint64_t position, uint64_t seq);
  // Removes a cursor no subscriber holds; false if there was none. Throws Error.
  static bool remove(const std::string& journal_dir, const std::string& name);

 private:
  CursorState* state() const noexcept { return reinterpret_cast<CursorState*>(file_.data()); }
  base::MappedFile file_;
  base::UniqueFd lock_;  // holds the flock; declared after file_, so it is dropped first
};

}  // namespace shmbus::topic
