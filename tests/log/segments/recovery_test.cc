// Torn and corrupt journal files: each kind of damage is detected with a clear message, and a
// repair keeps every record before the damage (the list, one test each).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "log/segments/recovery.h"
#include "log/segments/segment_file.h"
#include "support/segment_builder.h"
#include "support/test_bus.h"

namespace shmbus::log::segments {
namespace {

constexpr uint64_t kSegment = 8192;
constexpr int kRecordsPerSegment = 40;  // 40 x 64-byte frames, then end-of-segment padding

class JournalDir {
 public:
  const std::string& path() const { return dir_.path(); }

  // Writes `count` segments; the last holds `last_records` records and no padding.
  void write(int count, int last_records) {
    uint64_t seq = 0;
    for (int i = 0; i < count; ++i) {
      SegmentInfo info{static_cast<uint64_t>(i) * kSegment, seq, kSegment, static_cast<uint16_t>(i), 0, {}};
      ASSERT_TRUE(create_segment(path(), info));
      test::SegmentBuilder b(kSegment, info.epoch, seq);
      const bool last = i + 1 == count;
      for (int r = 0; r < (last ? last_records : kRecordsPerSegment); ++r) {
        b.record("segment " + std::to_string(i) + " record " + std::to_string(r), 1'000'000 * i + r + 1);
      }
      if (!last) b.pad_to_end();
      seq = b.next_seq();
      write_records(segment_path(i), b.bytes());
    }
  }
  std::string segment_path(int i) const { return path() + "/" + segment_file_name(static_cast<uint64_t>(i) * kSegment); }
  static void write_records(const std::string& path, const std::vector<std::byte>& data) {
    int fd = ::open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, data.data(), data.size(), kSegmentHeaderBytes), static_cast<ssize_t>(data.size()));
    ::close(fd);
  }
  static void poke(const std::string& path, uint64_t file_offset, const void* bytes, size_t n) {
    int fd = ::open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, bytes, n, static_cast<off_t>(file_offset)), static_cast<ssize_t>(n));
    ::close(fd);
  }

 private:
  test::TempDir dir_{"/tmp", "journal-test", /*make=*/true};
};

bool mentions(const JournalCheck& c, const std::string& text) {
  for (const std::string& p : c.problems) {
    if (p.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(JournalRecovery, AnIntactJournalIsHealthy) {
  JournalDir d;
  d.write(3, 7);
  JournalCheck c = check_journal(d.path(), false);
  EXPECT_TRUE(c.healthy()) << (c.problems.empty() ? "" : c.problems[0]);
  EXPECT_EQ(c.segments, 3u);
  EXPECT_EQ(c.records, 2u * kRecordsPerSegment + 7);
  EXPECT_EQ(c.next_seq, c.records);
  EXPECT_EQ(c.first_timestamp_ns, 1);
  EXPECT_EQ(c.last_timestamp_ns, 2'000'007);
  EXPECT_EQ(c.end_position, 2 * kSegment + 7 * 64);
}

TEST(JournalRecovery, TruncatedSegmentIsDetectedAndRepairKeepsWhatIsLeft) {
  JournalDir d;
  d.write(2, 30);
  std::filesystem::resize_file(d.segment_path(1), kSegmentHeaderBytes + 20 * 64 + 10);  // mid-record
  JournalCheck c = check_journal(d.path(), false);
  EXPECT_FALSE(c.healthy());
  EXPECT_TRUE(mentions(c, "truncated")) << c.problems[0];
  JournalCheck r = check_journal(d.path(), true);
  EXPECT_EQ(r.records, kRecordsPerSegment + 20u);
  EXPECT_EQ(std::filesystem::file_size(d.segment_path(1)), kSegmentHeaderBytes + kSegment);
  JournalCheck after = check_journal(d.path(), false);
  EXPECT_TRUE(after.healthy()) << (after.problems.empty() ? "" : after.problems[0]);
  EXPECT_EQ(after.records, kRecordsPerSegment + 20u);
}

TEST(JournalRecovery, ZeroedTailIsAShorterJournalNotDamage) {
  JournalDir d;
  d.write(2, 30);
  std::vector<std::byte> zeros(kSegment - 12 * 64);
  JournalDir::poke(d.segment_path(1), kSegmentHeaderBytes + 12 * 64, zeros.data(), zeros.size());
  JournalCheck c = check_journal(d.path(), false);
  EXPECT_TRUE(c.healthy()) << (c.problems.empty() ? "" : c.problems[0]);
  EXPECT_EQ(c.records, kRecordsPerSegment + 12u);
}

TEST(JournalRecovery, FlippedPayloadBitIsCaughtByTheCrcAndCutThere) {
  JournalDir d;
  d.write(3, 10);
  const uint8_t flip = 0x20;
  const uint64_t at = kSegmentHeaderBytes + 5 * 64 + 40;  // segment 1, record 5, payload
  std::byte b;
  { std::ifstream in(d.segment_path(1), std::ios::binary); in.seekg(static_cast<std::streamoff>(at)); in.read(reinterpret_cast<char*>(&b), 1); }
  b ^= std::byte{flip};
  JournalDir::poke(d.segment_path(1), at, &b, 1);
  JournalCheck c = check_journal(d.path(), false);
  EXPECT_TRUE(mentions(c, "CRC32C mismatch")) << c.problems[0];
  EXPECT_TRUE(mentions(c, "offset 320")) << c.problems[0];
  EXPECT_EQ(c.records, kRecordsPerSegment + 5u);  // stops at the damage
  JournalCheck r = check_journal(d.path(), true);
  ASSERT_EQ(r.moved_aside.size(), 1u);  // segment 2 follows the damage: kept aside, not deleted
  EXPECT_TRUE(std::filesystem::exists(r.moved_aside[0]));
  JournalCheck after = check_journal(d.path(), false);
  EXPECT_TRUE(after.healthy()) << (after.problems.empty() ? "" : after.problems[0]);
  EXPECT_EQ(after.records, kRecordsPerSegment + 5u);
  EXPECT_EQ(after.end_position, kSegment + 5 * 64);
}

TEST(JournalRecovery, AHeaderWithAHugeLengthIsBounded) {
  JournalDir d;
  d.write(1, 20);
  const uint64_t huge = log::CommitWord{0x7ffffff0, log::kTypeData, 0, 0}.encode();
  JournalDir::poke(d.segment_path(0), kSegmentHeaderBytes + 8 * 64, &huge, 8);
  JournalCheck c = check_journal(d.path(), false);
  EXPECT_TRUE(mentions(c, "frame length")) << c.problems[0];
  EXPECT_EQ(c.records, 8u);
  check_journal(d.path(), true);
  EXPECT_EQ(check_journal(d.path(), false).records, 8u);
}

TEST(JournalRecovery, AMissingMiddleSegmentIsDetected) {
  JournalDir d;
  d.write(4, 5);
  std::filesystem::remove(d.segment_path(2));
  JournalCheck c = check_journal(d.path(), false);
  EXPECT_TRUE(mentions(c, "a segment is missing")) << c.problems[0];
  EXPECT_EQ(c.records, 2u * kRecordsPerSegment);
  JournalCheck r = check_journal(d.path(), true);
  EXPECT_EQ(r.moved_aside.size(), 1u);
  EXPECT_TRUE(check_journal(d.path(), false).healthy());
}

TEST(JournalRecovery, ASegmentOfAnotherVersionIsReportedAndLeftAlone) {
  JournalDir d;
  d.write(2, 5);
  const uint32_t version = 99;
  JournalDir::poke(d.segment_path(1), 8, &version, 4);  // the version follows the 8-byte magic
  JournalCheck c = check_journal(d.path(), true);
  EXPECT_TRUE(mentions(c, "layout version 99")) << c.problems[0];
  EXPECT_TRUE(c.moved_aside.empty());
  EXPECT_TRUE(std::filesystem::exists(d.segment_path(1)));
}

TEST(JournalRecovery, AnAbandonedClaimIsVoidedByRepair) {
  JournalDir d;
  SegmentInfo info{0, 0, kSegment, 0, 0, {}};
  ASSERT_TRUE(create_segment(d.path(), info));
  test::SegmentBuilder b(kSegment, 0, 0);
  b.record("a");
  b.abandoned(30);  // its writer was killed between claim and commit
  b.record("b");
  JournalDir::write_records(d.segment_path(0), b.bytes());
  JournalCheck c = check_journal(d.path(), false);
  EXPECT_EQ(c.abandoned, 1u);
  EXPECT_FALSE(c.healthy());
  check_journal(d.path(), true);
  JournalCheck after = check_journal(d.path(), false);
  EXPECT_TRUE(after.healthy());
  EXPECT_EQ(after.records, 2u);
  EXPECT_EQ(after.voided, 1u);
  EXPECT_EQ(after.next_seq, 3u);
}

TEST(JournalRecovery, GarbageInsteadOfASegmentIsNotAShmbusFile) {
  JournalDir d;
  d.write(2, 3);
  std::ofstream(d.segment_path(1), std::ios::trunc) << "this is not a segment";
  JournalCheck c = check_journal(d.path(), false);
  EXPECT_TRUE(mentions(c, "too short to be a shmbus file")) << c.problems[0];
  EXPECT_EQ(c.records, static_cast<uint64_t>(kRecordsPerSegment));
}

}  // namespace
}  // namespace shmbus::log::segments

namespace shmbus::log::segments {
namespace {

// Publishers make the next segment before they need it: an empty segment after the last one
// in use is no damage, and a repair still fixes the segment before it.
TEST(JournalRecovery, AnEmptySegmentMadeAheadIsFineAndRepairStillReachesTheOneBefore) {
  JournalDir d;
  SegmentInfo first{0, 0, kSegment, 0, 0, {}};
  ASSERT_TRUE(create_segment(d.path(), first));
  test::SegmentBuilder b(kSegment, 0, 0);
  b.record("kept");
  b.abandoned(24);  // the last claim, its writer killed half-way through the payload
  JournalDir::write_records(d.segment_path(0), b.bytes());
  ASSERT_TRUE(create_segment(d.path(), SegmentInfo{kSegment, ~0ull, kSegment, 1, 0, {}}));  // made ahead, empty
  JournalCheck c = check_journal(d.path(), false);
  // Nothing after the dead claim bounds it, so it is a torn tail (its pair was never written):
  // cut, not voided. The empty segment after it is no problem.
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_NE(c.problems[0].find(d.segment_path(0)), std::string::npos) << c.problems[0];
  EXPECT_EQ(c.cut_bytes, 12u);
  EXPECT_EQ(c.next_seq, 1u);
  check_journal(d.path(), true);
  JournalCheck after = check_journal(d.path(), false);
  EXPECT_TRUE(after.healthy());
  EXPECT_EQ(after.records, 1u);
  EXPECT_EQ(after.next_seq, 1u);
}

}  // namespace
}  // namespace shmbus::log::segments
