// A memory topic's storage: one power-of-two ring in a shared file, reused lap after lap.
#pragma once

#include <mutex>
#include <string>

#include "base/mapped_file.h"
#include "log/storage.h"

namespace shmbus::log::ring {

// The ring file: a FileHeader page, then `capacity` bytes of log.
inline constexpr size_t kRingDataOffset = 4096;

class RingStorage final : public Storage {
 public:
  // Makes `<temp_dir>/ring` for a ring of `capacity` bytes.
  static void create_file(const std::string& temp_dir, uint64_t capacity, unsigned mode);
  // Throws Error on a missing, foreign or truncated ring file.
  RingStorage(const std::string& topic_dir, uint64_t capacity, base::Access access);

  void populate() override;
  std::pair<std::string, size_t> file_offset_of(uint64_t position) const override;

 private:
  base::MappedFile file_;
  std::once_flag populated_;
};

}  // namespace shmbus::log::ring
