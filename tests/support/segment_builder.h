// Builds journal segment bytes in memory, record by record, exactly as a publisher lays them
// out, so scan tests can then damage them on purpose.
#pragma once

#include <cstring>
#include <string_view>
#include <vector>

#include "log/record_crc.h"
#include "log/record_format.h"

namespace shmbus::test {

class SegmentBuilder {
 public:
  SegmentBuilder(size_t bytes, uint16_t epoch, uint64_t first_seq) : data_(bytes), epoch_(epoch), seq_(first_seq) {}

  // Appends a committed DATA record; returns its offset.
  size_t record(std::string_view payload, int64_t timestamp_ns = 1'000) {
    const size_t len = log::kHeaderBytes + payload.size();
    const size_t at = claim(len, log::kTypeData, 0);
    log::RecordHeader* h = log::header_of(data_.data() + at);
    h->timestamp_ns = timestamp_ns;
    h->headers_len = 0;
    std::memcpy(data_.data() + at + log::kHeaderBytes, payload.data(), payload.size());
    h->crc32c = log::record_crc(data_.data() + at, len);
    return at;
  }
  // Appends a claim whose writer died before committing, half-way through its payload: the
  // tail moved past it, its pair was never written (layout 5). Returns its offset.
  size_t abandoned(size_t payload_bytes) {
    const size_t at = end_;
    std::memset(data_.data() + at + log::kHeaderBytes, 0xab, payload_bytes / 2);
    ++seq_;
    end_ += log::align_frame(log::kHeaderBytes + payload_bytes);
    return at;
  }
  // Fills the rest of the segment with end-of-segment padding.
  void pad_to_end() {
    const size_t room = data_.size() - end_;
    write_pair(end_, log::CommitWord{static_cast<int32_t>(room), log::kTypePadding, 0, epoch_}, seq_);
    end_ = data_.size();
  }

  std::vector<std::byte>& bytes() { return data_; }
  size_t end() const { return end_; }
  uint64_t next_seq() const { return seq_; }

 private:
  size_t claim(size_t len, uint8_t type, uint8_t flags) {
    const size_t at = end_;
    write_pair(at, log::CommitWord{static_cast<int32_t>(len), type, flags, epoch_}, seq_++);
    end_ += log::align_frame(len);
    return at;
  }
  void write_pair(size_t at, log::CommitWord word, uint64_t seq) {
    uint64_t w = word.encode();
    std::memcpy(data_.data() + at, &w, 8);
    std::memcpy(data_.data() + at + 8, &seq, 8);
  }

  std::vector<std::byte> data_;
  uint16_t epoch_;
  uint64_t seq_;
  size_t end_ = 0;
};

}  // namespace shmbus::test
