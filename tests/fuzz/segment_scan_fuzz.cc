// libFuzzer target: scan_segment() on arbitrary bytes must never read out of bounds, never
// overflow, and report an end inside the input (ASan + UBSan watch; tools/test.sh runs it 60 s).
// The expected epoch and first seq are taken from the input's first frame, so mutations of a
// plausible frame go deep instead of stopping at the first check; one input byte picks whether
// CRCs are verified, so the paths behind a (hard to guess) CRC get explored too, and whether
// the segment is a recycled one (leftovers end it instead of being damage).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "log/segments/segment_scan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool verify_crc = data[0] & 1;
  const bool recycled = data[0] & 2;
  std::span<const std::byte> segment(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  uint64_t word = 0, seq = 0;
  if (segment.size() >= 16) {
    std::memcpy(&word, segment.data(), 8);
    std::memcpy(&seq, segment.data() + 8, 8);
  }
  const auto epoch = static_cast<uint16_t>(word >> 48);
  // Another input bit says whether a next segment's first seq is known (then a hole may reach
  // the end of this one).
  const uint64_t next = data[0] & 4 ? seq + (data[0] >> 3) : shmbus::log::segments::kNoNextSegment;
  shmbus::log::segments::SegmentScan s = shmbus::log::segments::scan_segment(segment, epoch, seq, verify_crc, recycled, next);
  if (s.end > segment.size() || s.dirty_bytes > segment.size() - s.end) __builtin_trap();
  for (const shmbus::log::VoidPart& h : s.holes) {
    if (h.position >= h.end || h.end > s.end || h.seqs > (h.end - h.position) / 32) __builtin_trap();
  }
  return 0;
}
