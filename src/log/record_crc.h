// The checksum a journal record carries: CRC32C of the header after the claim pair (timestamp,
// headers length), then the headers and the payload. The claim pair (length, type, flags, epoch,
// seq) is left out: it is written by the commit, after the CRC, and the scan checks those fields
// on its own (bounds, type, epoch, seq continuity).
// Protocol spec: docs/format.md section 3.5.
#pragma once

#include <cstdint>
#include <span>

#include "log/crc32c.h"
#include "log/record_format.h"

namespace shmbus::log {

// `len`: the record's length (header + headers + payload), positive.
inline uint32_t record_crc(const std::byte* frame, size_t len) noexcept {
  constexpr size_t kAfterPair = offsetof(log::RecordHeader, timestamp_ns);
  constexpr size_t kCrcAt = offsetof(log::RecordHeader, crc32c);
  uint32_t c = crc32c({frame + kAfterPair, kCrcAt - kAfterPair});  // timestamp
  return crc32c({frame + kCrcAt + 4, len - kCrcAt - 4}, c);  // headers_len, headers, payload
}

}  // namespace shmbus::log
