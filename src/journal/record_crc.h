// The checksum a journal record carries: CRC32C of every header byte except the commit word's
// length (which the commit itself flips) and the crc field, then the headers and the payload.
#pragma once

#include <cstdint>
#include <span>

#include "journal/crc32c.h"
#include "log/record_format.h"

namespace shmbus::journal {

// `len`: the record's length (header + headers + payload), positive.
inline uint32_t record_crc(const std::byte* frame, size_t len) noexcept {
  constexpr size_t kCrcAt = offsetof(log::RecordHeader, crc32c);
  uint32_t c = crc32c({frame + 4, kCrcAt - 4});  // type, flags, epoch, seq, timestamp
  return crc32c({frame + kCrcAt + 4, len - kCrcAt - 4}, c);  // headers_len, headers, payload
}

}  // namespace shmbus::journal
