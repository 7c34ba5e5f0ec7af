// Scanning a journal segment: its true end, and every kind of damage detected with a clear
// message while every record before the damage is kept.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "log/segments/segment_scan.h"
#include "support/segment_builder.h"

namespace shmbus::log::segments {
namespace {

using test::SegmentBuilder;
using Stop = SegmentScan::Stop;

constexpr size_t kSegment = 64 * 1024;
constexpr uint16_t kEpoch = 3;
constexpr uint64_t kFirstSeq = 1000;

SegmentBuilder with_records(int n) {
  SegmentBuilder b(kSegment, kEpoch, kFirstSeq);
  for (int i = 0; i < n; ++i) b.record("record " + std::to_string(i), 1'000 + i);
  return b;
}

TEST(SegmentScan, FindsTheTrueEndOfACleanSegment) {
  SegmentBuilder b = with_records(100);
  SegmentScan s = scan_segment(b.bytes(), kEpoch, kFirstSeq, true);
  EXPECT_EQ(s.stop, Stop::kClean) << s.problem;
  EXPECT_EQ(s.end, b.end());
  EXPECT_EQ(s.records, 100u);
  EXPECT_EQ(s.next_seq, kFirstSeq + 100);
  EXPECT_EQ(s.first_timestamp_ns, 1'000);
  EXPECT_EQ(s.last_timestamp_ns, 1'099);
  EXPECT_FALSE(s.full);
  EXPECT_EQ(s.dirty_bytes, 0u);
}

// A recycled segment: an older segment's records (another epoch, older seqs, other frame
// boundaries) under the new ones. They end the scan cleanly and are not damage.
TEST(SegmentScan, ARecycledSegmentEndsWhereItsOwnClaimsEnd) {
  SegmentBuilder old(kSegment, kEpoch - 2, kFirstSeq - 5000);
  for (int i = 0; i < 400; ++i) old.record(std::string(37 + i % 50, 'o'));
  SegmentBuilder b(kSegment, kEpoch, kFirstSeq);
  b.bytes() = old.bytes();
  size_t last = 0;
  for (int i = 0; i < 100; ++i) last = b.record("new " + std::to_string(i), 5'000 + i);
  SegmentScan s = scan_segment(b.bytes(), kEpoch, kFirstSeq, true, /*recycled=*/true);
  EXPECT_EQ(s.stop, Stop::kClean) << s.problem;
  EXPECT_EQ(s.end, b.end());
  EXPECT_EQ(s.records, 100u);
  EXPECT_EQ(s.next_seq, kFirstSeq + 100);
  EXPECT_EQ(s.dirty_bytes, 0u);
  // Scanned as a zeroed segment, the same bytes are a torn write.
  EXPECT_EQ(scan_segment(b.bytes(), kEpoch, kFirstSeq, true).stop, Stop::kTorn);
  // A damaged record of its own is still caught.
  b.bytes()[last + log::kHeaderBytes] ^= std::byte{0x10};  // the last record's payload
  SegmentScan damaged = scan_segment(b.bytes(), kEpoch, kFirstSeq, true, true);
  EXPECT_EQ(damaged.stop, Stop::kCorrupt);
  EXPECT_EQ(damaged.records, 99u);
}

TEST(SegmentScan, AFullSegmentEndsWithPadding) {
  SegmentBuilder b = with_records(10);
  b.pad_to_end();
  SegmentScan s = scan_segment(b.bytes(), kEpoch, kFirstSeq, true);
  EXPECT_EQ(s.stop, Stop::kClean) << s.problem;
  EXPECT_TRUE(s.full);
  EXPECT_EQ(s.end, kSegment);
  EXPECT_EQ(s.next_seq, kFirstSeq + 10);  // padding takes no seq
}

TEST(SegmentScan, AbandonedClaimsAreListedAndSkipped) {
  SegmentBuilder b(kSegment, kEpoch, kFirstSeq);
  b.record("before");
  const size_t dead = b.abandoned(40);
  b.record("after");
  SegmentScan s = scan_segment(b.bytes(), kEpoch, kFirstSeq, true);
  EXPECT_EQ(s.stop, Stop::kClean) << s.problem;
  ASSERT_EQ(s.holes.size(), 1u);
  EXPECT_EQ(s.holes[0].position, dead);
  EXPECT_EQ(s.holes[0].end, dead + log::align_frame(log::kHeaderBytes + 40));
  EXPECT_EQ(s.holes[0].seq, kFirstSeq + 1);
  EXPECT_EQ(s.holes[0].seqs, 1u);
  EXPECT_EQ(s.records, 2u);
  EXPECT_EQ(s.next_seq, kFirstSeq + 3);  // the abandoned claim took a seq
}

TEST(SegmentScan, ZeroedTailIsJustTheEnd) {
  SegmentBuilder b = with_records(20);
  const size_t cut = b.end() / 2 / log::kRecordAlign * log::kRecordAlign;
  std::memset(b.bytes().data() + cut, 0, b.end() - cut);
  SegmentScan s = scan_segment(b.bytes(), kEpoch, kFirstSeq, true);
  EXPECT_LE(s.end, cut);
  EXPECT_GT(s.records, 0u);
  EXPECT_LT(s.records, 20u);
  // A frame cut in the middle leaves its start: then it is torn, not clean.
  if (s.stop == Stop::kClean) {
    EXPECT_EQ(s.end, cut);
  } else {
    EXPECT_EQ(s.stop, Stop::kTorn) << s.problem;
  }
}

TEST(SegmentScan, GarbageAfterTheEndIsTornAndCounted) {
  SegmentBuilder b = with_records(5);
  b.bytes()[b.end() + 100] = std::byte{0x5a};
  b.bytes()[b.end() + 999] = std::byte{0x01};
  SegmentScan s = scan_segment(b.bytes(), kEpoch, kFirstSeq, true);
  EXPECT_EQ(s.stop, Stop::kTorn);
  EXPECT_EQ(s.end, b.end());
  EXPECT_EQ(s.records, 5u);
  EXPECT_EQ(s.dirty_bytes, 2u);
  EXPECT_NE(s.problem.find("non-zero bytes"), std::string::npos) << s.problem;
}

TEST(SegmentScan, AFlippedPayloadBitFailsTheCrcAndKeepsEverythingBefore) {
  SegmentBuilder b(kSegment, kEpoch, kFirstSeq);
  for (int i = 0; i < 3; ++i) b.record("good " + std::to_string(i));
  const size_t bad = b.record("this one gets a flipped bit");
  b.record("after the damage");
  b.bytes()[bad + log::kHeaderBytes + 5] ^= std::byte{0x10};
  SegmentScan s = scan_segment(b.bytes(), kEpoch, kFirstSeq, true);
  EXPECT_EQ(s.stop, Stop::kCorrupt);
  EXPECT_EQ(s.end, bad);
  EXPECT_EQ(s.records, 3u);
  EXPECT_NE(s.problem.find("CRC32C mismatch"), std::string::npos) << s.problem;
  EXPECT_NE(s.problem.find("offset " + std::to_string(bad)), std::string::npos) << s.problem;
  // Without CRC checks the same bytes pass: the flip is only visible to the checksum.
  EXPECT_EQ(scan_segment(b.bytes(), kEpoch, kFirstSeq, false).records, 5u);
}

TEST(SegmentScan, AHugeLengthIsBoundedNotFollowed) {
  SegmentBuilder b = with_records(4);
  const size_t at = b.record("victim");
  const uint64_t huge = log::CommitWord{0x7fffff00, log::kTypeData, 0, kEpoch}.encode();
  std::memcpy(b.bytes().data() + at, &huge, 8);
  SegmentScan s = scan_segment(b.bytes(), kEpoch, kFirstSeq, true);
  EXPECT_EQ(s.stop, Stop::kTorn);
  EXPECT_EQ(s.end, at);
  EXPECT_EQ(s.records, 4u);
  EXPECT_NE(s.problem.find("frame length"), std::string::npos) << s.problem;
}

TEST(SegmentScan, AWrongEpochOrSeqStopsTheScan) {
  SegmentBuilder b = with_records(6);
  SegmentScan other_epoch = scan_segment(b.bytes(), kEpoch + 1, kFirstSeq, true);
  EXPECT_EQ(other_epoch.end, 0u);
  EXPECT_NE(other_epoch.problem.find("epoch"), std::string::npos);
  SegmentScan other_seq = scan_segment(b.bytes(), kEpoch, kFirstSeq + 1, true);
  EXPECT_EQ(other_seq.end, 0u);
  EXPECT_NE(other_seq.problem.find("seq"), std::string::npos);
}

TEST(SegmentScan, NeverReadsPastShortOrOddSizedInput) {
  SegmentBuilder b = with_records(3);
  for (size_t n : {0u, 1u, 15u, 16u, 17u, 40u, 47u, 48u, 100u}) {
    std::vector<std::byte> cut(b.bytes().begin(), b.bytes().begin() + static_cast<long>(n));
    SegmentScan s = scan_segment(cut, kEpoch, kFirstSeq, true);  // ASan watches the bounds
    EXPECT_LE(s.end, n);
  }
}

}  // namespace
}  // namespace shmbus::log::segments
