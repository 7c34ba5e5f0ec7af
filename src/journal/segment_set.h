// A journal topic's segments, as the objects of one process see them: mapped on first use (and
// created by publishers) and shared. A mapping is dropped once retention has moved the first
// retained position past it and the last object that points into it (its pin) lets go.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "log/log_storage.h"
#include "log/mapped_file.h"

namespace shmbus::journal {

class SegmentSet final : public log::SegmentSource {
 public:
  // `first_position`: the topic's oldest retained position (in its meta), moved by retention.
  SegmentSet(std::string dir, uint64_t segment_bytes, log::Access access, const std::atomic<uint64_t>* first_position);
  ~SegmentSet() override;

  log::MappedSegment segment(uint64_t index, bool create) noexcept override;
  uint64_t first_position() const noexcept override;
  std::string segment_path(uint64_t index) const override;
  uint64_t records_offset() const noexcept override;
  const std::string& dir() const noexcept { return dir_; }

 private:
  std::string dir_;
  uint64_t segment_bytes_;
  log::Access access_;
  const std::atomic<uint64_t>* first_position_;
  // Maps (and, when `create`, makes) segment `index`, its pages populated. Holds mu_.
  log::MappedSegment map_locked(uint64_t index, bool create) noexcept;
  // Lets go of the mappings of segments that retention removed. Holds mu_.
  void drop_retired_locked() noexcept;
  void prepare_ahead(std::stop_token stop);

  std::mutex mu_;  // segment() is the slow path: once per segment per object
  std::map<uint64_t, std::shared_ptr<const log::MappedFile>> mapped_;
  // Publishers: the segment after the one in use is made, mapped and faulted in by a
  // background thread, so the publish that crosses into it does not pay for that.
  std::condition_variable_any ahead_cv_;
  uint64_t ahead_index_ = ~0ull;  // the segment to prepare next (guarded by mu_)
  std::jthread ahead_;             // last: stopped before the mappings go
};

}  // namespace shmbus::journal
