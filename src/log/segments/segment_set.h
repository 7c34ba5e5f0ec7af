// A journal topic's segments, as the objects of one process see them: mapped on first use (and
// created by publishers) and shared. A mapping is dropped once retention has moved the first
// retained position past it and the last object that points into it (its pin) lets go.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "log/log_storage.h"
#include "base/mapped_file.h"

namespace shmbus::log::segments {

class SegmentSet final : public log::SegmentSource {
 public:
  // `first_position`: the topic's oldest retained position (in its meta), moved by retention.
  SegmentSet(std::string dir, uint64_t segment_bytes, base::Access access, const std::atomic<uint64_t>* first_position);
  ~SegmentSet() override;

  log::MappedSegment segment(uint64_t index, bool create) noexcept override;
  // Publishers: run by the background thread before it makes the next segment (retention: the
  // segment it retires then is the spare the new one reuses). Set before any publish.
  void set_before_create(std::function<void()> hook) { before_create_ = std::move(hook); }
  uint64_t first_position() const noexcept override;
  std::string segment_path(uint64_t index) const override;
  uint64_t records_offset() const noexcept override;
  const std::string& dir() const noexcept { return dir_; }
  // Why the last segment that could not be made or mapped failed (an Error's message), or "".
  // For explanations on the slow path (Publisher::explain); takes the lock.
  std::string last_error();

 private:
  std::string dir_;
  uint64_t segment_bytes_;
  base::Access access_;
  const std::atomic<uint64_t>* first_position_;
  // Maps (and, when `create`, makes) segment `index`, its pages populated. Holds mu_.
  log::MappedSegment map_locked(uint64_t index, bool create) noexcept;
  // Lets go of the mappings of segments that retention removed. Holds mu_.
  void drop_retired_locked() noexcept;
  void prepare_ahead(std::stop_token stop);

  // A mapping and the file (device, inode) it maps: retention renames a retired segment into
  // a spare and create_segment() renames the spare into a new segment, so the same file comes
  // back under another name, and its mapping (its page tables filled) can be used again.
  struct Mapping {
    std::shared_ptr<const base::MappedFile> file;
    uint64_t dev = 0;
    uint64_t ino = 0;
  };
  // A retired mapping of the file (dev, ino) that nobody else points into, taken out of
  // retired_; or nothing. Holds mu_.
  std::shared_ptr<const base::MappedFile> take_retired(uint64_t dev, uint64_t ino) noexcept;

  std::mutex mu_;  // segment() is the slow path: once per segment per object
  std::map<uint64_t, Mapping> mapped_;
  std::vector<Mapping> retired_;  // newest last; a few, for reuse
  std::string last_error_;         // guarded by mu_
  // Publishers: the segment after the one in use is made, mapped and faulted in by a
  // background thread, so the publish that crosses into it does not pay for that.
  std::function<void()> before_create_;
  std::condition_variable_any ahead_cv_;
  uint64_t ahead_index_ = ~0ull;  // the segment to prepare next (guarded by mu_)
  std::jthread ahead_;             // last: stopped before the mappings go
};

}  // namespace shmbus::log::segments
