#include "log/segments/segment_scan.h"

#include <cstring>

#include "log/record_crc.h"
#include "log/void_frames.h"
#include "log/record_format.h"

namespace shmbus::log::segments {
namespace {

uint64_t count_nonzero(std::span<const std::byte> bytes) {
  uint64_t n = 0;
  for (std::byte b : bytes) n += b != std::byte{0};
  return n;
}

std::string at(uint64_t offset, const std::string& what) { return "offset " + std::to_string(offset) + ": " + what; }

// The claims at `offset` (seq `seq`) whose pair was never written, if a later record bounds them:
// the first record of this epoch after them whose seq leaves room for the claims between
// (32 bytes each at least: log::Misfit::kKeepLooking, log/void_frames.h), else the next segment's first record.
bool find_hole(std::span<const std::byte> data, uint64_t offset, uint16_t epoch, uint64_t seq, uint64_t next_segment_seq,
               log::VoidPart& hole) {
  // Every seq is a known one here, ~0 too (bytes on disk say anything).
  const log::BoundarySearch search{.origin = offset, .seq = seq, .any_seq = false, .max_seq = ~0ull, .epoch = epoch,
                                   .misfit = log::Misfit::kKeepLooking};
  auto read = [&](uint64_t q) { return log::pair_in(data.data() + q); };
  // Pairs whose 16 bytes are all inside `data` (offsets are multiples of 16).
  const uint64_t pairs_end = data.size() & ~(log::kRecordAlign - 1);
  if (const auto b = log::first_continuing_record(read, offset + log::kRecordAlign, pairs_end, data.size(), false, search)) {
    hole = {offset, b->position, seq, b->seq - seq};
    return true;
  }
  if (next_segment_seq == kNoNextSegment || next_segment_seq < seq ||
      !log::claims_fit(next_segment_seq - seq, data.size() - offset)) {
    return false;
  }
  hole = {offset, data.size(), seq, next_segment_seq - seq};
  return true;
}

void stop_at(SegmentScan& s, SegmentScan::Stop why, uint64_t offset, const std::string& what) {
  s.stop = why;
  s.problem = at(offset, what);
}

// Checks the DATA record at `offset` (length `len`) and counts it; false if it ends the segment.
bool take_record(std::span<const std::byte> data, uint64_t offset, size_t len, uint64_t seq, bool verify_crc,
                 SegmentScan& s) {
  log::RecordHeader header;
  std::memcpy(&header, data.data() + offset, sizeof header);
  if (header.headers_len > len - log::kHeaderBytes) {
    stop_at(s, SegmentScan::Stop::kCorrupt, offset, "a headers block longer than its record");
    return false;
  }
  if (verify_crc && record_crc(data.data() + offset, len) != header.crc32c) {
    stop_at(s, SegmentScan::Stop::kCorrupt, offset, "CRC32C mismatch in record seq " + std::to_string(seq));
    return false;
  }
  if (s.records == 0) s.first_timestamp_ns = header.timestamp_ns;
  s.last_timestamp_ns = header.timestamp_ns;
  ++s.records;
  ++s.next_seq;
  return true;
}

// Checks the frame at `offset` whose pair `f` is written (not a hole) and counts it; false if it
// ends the segment (s.stop and s.problem say why).
bool take_frame(std::span<const std::byte> data, uint64_t offset, log::ClaimPair f, uint16_t epoch, bool verify_crc,
                SegmentScan& s) {
  const uint64_t room = data.size() - offset;
  const uint64_t frame = f.word.frame_bytes();
  if (f.word.epoch != epoch) {
    stop_at(s, SegmentScan::Stop::kTorn, offset,
            "a word of epoch " + std::to_string(f.word.epoch) + ", expected " + std::to_string(epoch));
    return false;
  }
  if (frame == 0 || frame > room) {
    stop_at(s, SegmentScan::Stop::kTorn, offset, "a frame length of " + std::to_string(f.word.len) + " bytes with " +
                                                     std::to_string(room) + " left in the segment");
    return false;
  }
  if (f.seq != s.next_seq) {
    stop_at(s, SegmentScan::Stop::kTorn, offset, "seq " + std::to_string(f.seq) + ", expected " + std::to_string(s.next_seq));
    return false;
  }
  if (f.word.type == log::kTypePadding && f.word.len > 0) {
    if (f.word.flags & log::kFlagVoided) {
      ++s.voided;
      ++s.next_seq;
    } else if (frame != room) {
      stop_at(s, SegmentScan::Stop::kCorrupt, offset, "end-of-segment padding that does not reach the end");
      return false;
    }
    return true;
  }
  if (f.word.type != log::kTypeData) {
    stop_at(s, SegmentScan::Stop::kCorrupt, offset, "record type " + std::to_string(f.word.type));
    return false;
  }
  if (f.word.len < 0) {
    stop_at(s, SegmentScan::Stop::kCorrupt, offset, "a negative record length (no layout-5 writer leaves one)");
    return false;
  }
  return take_record(data, offset, static_cast<size_t>(f.word.len), f.seq, verify_crc, s);
}

}  // namespace

SegmentScan scan_segment(std::span<const std::byte> data, uint16_t epoch, uint64_t first_seq, bool verify_crc,
                         bool recycled, uint64_t next_segment_seq) {
  SegmentScan s;
  s.next_seq = first_seq;
  uint64_t offset = 0;
  while (offset + log::kRecordAlign <= data.size()) {
    const log::ClaimPair f = log::pair_in(data.data() + offset);
    // Never written (zero, or an older segment's bytes): the end, or a hole.
    if (f.word.len == 0 || (recycled && (f.word.epoch != epoch || f.seq != s.next_seq))) {
      log::VoidPart hole;
      if (!find_hole(data, offset, epoch, s.next_seq, next_segment_seq, hole)) break;
      s.holes.push_back(hole);
      s.next_seq += hole.seqs;
      offset = hole.end;
      continue;
    }
    if (!take_frame(data, offset, f, epoch, verify_crc, s)) break;
    offset += f.word.frame_bytes();
  }
  s.end = offset;
  s.full = offset == data.size();  // by end padding, or by a record that fit exactly
  s.dirty_bytes = recycled && s.stop == SegmentScan::Stop::kClean ? 0 : count_nonzero(data.subspan(offset));
  if (s.stop == SegmentScan::Stop::kClean && s.dirty_bytes != 0) {
    s.stop = SegmentScan::Stop::kTorn;
    s.problem = at(offset, std::to_string(s.dirty_bytes) + " non-zero bytes after the last record");
  }
  return s;
}

}  // namespace shmbus::log::segments
