// A journal topic's segments, as the objects of one process see them: mapped on first use (and
// created by publishers), kept mapped while the topic is open in this process, so the raw
// pointers that publishers, subscribers and Python views hold stay valid.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "log/log_storage.h"
#include "log/mapped_file.h"

namespace shmbus::journal {

class SegmentSet final : public log::SegmentSource {
 public:
  SegmentSet(std::string dir, uint64_t segment_bytes, log::Access access);
  ~SegmentSet() override;

  std::byte* segment(uint64_t index, bool create) noexcept override;
  uint64_t first_position() const noexcept override;
  std::string segment_path(uint64_t index) const override;
  uint64_t records_offset() const noexcept override;
  const std::string& dir() const noexcept { return dir_; }

 private:
  std::string dir_;
  uint64_t segment_bytes_;
  log::Access access_;
  // Maps (and, when `create`, makes) segment `index`, its pages populated. Holds mu_.
  std::byte* map_locked(uint64_t index, bool create) noexcept;
  void prepare_ahead(std::stop_token stop);

  std::mutex mu_;  // segment() is the slow path: once per segment per object
  std::map<uint64_t, log::MappedFile> mapped_;
  // Publishers: the segment after the one in use is made, mapped and faulted in by a
  // background thread, so the publish that crosses into it does not pay for that.
  std::condition_variable_any ahead_cv_;
  uint64_t ahead_index_ = ~0ull;  // the segment to prepare next (guarded by mu_)
  std::jthread ahead_;             // last: stopped before the mappings go
};

}  // namespace shmbus::journal
