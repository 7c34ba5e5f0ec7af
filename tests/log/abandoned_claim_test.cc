// Where a dead claim ends (log/abandoned_claim.h: find_abandoned_span() and the span's parts),
// one test per Kind and per way the chain of tail values bounds the span: the next record of
// the lap, the tail, the next lap's first record, a crossing span, and contradictions.
// (Voiding the span: void_frames_test.cc.)
#include <gtest/gtest.h>

#include <cstdint>

#include "log/abandoned_claim.h"
#include "log/log_buffer.h"
#include "log/record_format.h"
#include "log/void_frames.h"

namespace shmbus::log {
namespace {

using test::FakeSegments;
using test::LogBuffer;
using Kind = AbandonedSpan::Kind;

constexpr uint64_t kLap = 256;
constexpr uint64_t kSeq = 10;  // the dead claim's seq
constexpr int32_t kLen = 40;   // a 48-byte frame
constexpr uint64_t kFrame = align_frame(kLen);

AbandonedSpan find(LogBuffer& buf, uint64_t position, uint64_t seq = kSeq) {
  return find_abandoned_span(buf.log(), buf.tail(), position, seq);
}

// --- kNotClaimed ----------------------------------------------------------------------------

TEST(AbandonedSpan, TailAtThePositionIsNotClaimed) {
  LogBuffer buf(kLap);
  buf.set_tail(64, kSeq);

  const AbandonedSpan sut = find(buf, 64);

  EXPECT_EQ(sut.kind, Kind::kNotClaimed);
}

TEST(AbandonedSpan, JournalSegmentMissingIsNotClaimed) {
  FakeSegments segments(kLap, 1);
  segments.missing = {0};
  const LogStorage journal = LogStorage::segments(&segments, kLap, false);
  Tail tail{};
  tail.position = 64 + kFrame;
  tail.seq = kSeq + 1;

  const AbandonedSpan sut = find_abandoned_span(journal, tail, 64, kSeq);

  EXPECT_EQ(sut.kind, Kind::kNotClaimed);
}

// --- kFound within the lap ------------------------------------------------------------------

TEST(AbandonedSpan, DeadClaimEndsAtTheNextRecord) {
  LogBuffer buf(kLap);
  buf.put_record(64 + kFrame, kLen, kSeq + 1);
  buf.set_tail(64 + 2 * kFrame, kSeq + 2);

  const AbandonedSpan sut = find(buf, 64);

  ASSERT_EQ(sut.kind, Kind::kFound);
  EXPECT_EQ(sut.position, 64u);
  EXPECT_EQ(sut.end, 64 + kFrame);
  EXPECT_EQ(sut.seq, kSeq);
  EXPECT_EQ(sut.seqs, 1u);
  EXPECT_EQ(sut.boundary_seq, kSeq + 1);
  EXPECT_EQ(sut.lap_end, kLap);
  EXPECT_EQ(sut.part_count(), 1u);
}

TEST(AbandonedSpan, DeadClaimAtTheTailEndsAtTheTail) {
  LogBuffer buf(kLap);
  buf.set_tail(64 + kFrame, kSeq + 1);

  const AbandonedSpan sut = find(buf, 64);

  ASSERT_EQ(sut.kind, Kind::kFound);
  EXPECT_EQ(sut.end, 64 + kFrame);
  EXPECT_EQ(sut.seqs, 1u);
  EXPECT_EQ(sut.boundary_seq, kSeq + 1);
}

// The boundary can also be a void another unblocker wrote after our span (it takes a seq).
TEST(AbandonedSpan, VoidedPaddingAfterItIsTheBoundary) {
  LogBuffer buf(kLap);
  buf.put_padding(64 + kFrame, kFrame, kSeq + 1, /*voided=*/true);
  buf.set_tail(64 + 2 * kFrame, kSeq + 2);

  const AbandonedSpan sut = find(buf, 64);

  ASSERT_EQ(sut.kind, Kind::kFound);
  EXPECT_EQ(sut.end, 64 + kFrame);
  EXPECT_EQ(sut.seqs, 1u);
}

// Lap-end padding carries the seq of the next DATA record, which here is the tail's own seq.
TEST(AbandonedSpan, LapEndPaddingAfterItIsTheBoundary) {
  constexpr uint64_t kPadAt = 64 + kFrame;
  LogBuffer buf(kLap);
  buf.put_padding(kPadAt, kLap - kPadAt, kSeq + 1);
  buf.set_tail(kLap, kSeq + 1);

  const AbandonedSpan sut = find(buf, 64);

  ASSERT_EQ(sut.kind, Kind::kFound);
  EXPECT_EQ(sut.end, kPadAt);
  EXPECT_EQ(sut.seqs, 1u);
  EXPECT_EQ(sut.boundary_seq, kSeq + 1);
}

TEST(AbandonedSpan, SeveralDeadClaimsAreCountedBySeq) {
  constexpr uint64_t kDead = 3;
  constexpr uint64_t kEnd = kDead * kFrame;
  LogBuffer buf(kLap);
  buf.put_record(kEnd, kLen, kSeq + kDead);
  buf.set_tail(kEnd + kFrame, kSeq + kDead + 1);

  const AbandonedSpan sut = find(buf, 0);

  ASSERT_EQ(sut.kind, Kind::kFound);
  EXPECT_EQ(sut.end, kEnd);
  EXPECT_EQ(sut.seqs, kDead);
  EXPECT_EQ(sut.boundary_seq, kSeq + kDead);
}

// The smallest claim: 32 bytes a seq, so two seqs fit in 64 bytes (the claims_fit() boundary).
TEST(AbandonedSpan, TwoClaimsOfAHeaderEachFitInSixtyFourBytes) {
  LogBuffer buf(kLap);
  buf.set_tail(2 * kHeaderBytes, kSeq + 2);

  const AbandonedSpan sut = find(buf, 0);

  ASSERT_EQ(sut.kind, Kind::kFound);
  EXPECT_EQ(sut.seqs, 2u);
}

// What the dead claimer wrote before it died, and older laps' pairs, are not the boundary.
TEST(AbandonedSpan, LeftoversInsideTheSpanAreSkipped) {
  LogBuffer buf(kLap);
  buf.fill(0, kLap, std::byte{0xab});
  buf.put_record(64 + 16, kLen, kSeq + 1);  // inside the span's bytes, but lap 0's record
  buf.put_record(kLap + 64 + kFrame, kLen, kSeq + 1);
  buf.set_tail(kLap + 64 + 2 * kFrame, kSeq + 2);

  const AbandonedSpan sut = find(buf, kLap + 64);

  ASSERT_EQ(sut.kind, Kind::kFound);
  EXPECT_EQ(sut.end, kLap + 64 + kFrame);
  EXPECT_EQ(sut.seqs, 1u);
}

TEST(AbandonedSpan, LookalikeWithASeqBeyondTheTailIsSkipped) {
  LogBuffer buf(kLap);
  buf.put_record(64 + 16, kLen, kSeq + 50);
  buf.set_tail(64 + kFrame, kSeq + 1);

  const AbandonedSpan sut = find(buf, 64);

  ASSERT_EQ(sut.kind, Kind::kFound);
  EXPECT_EQ(sut.end, 64 + kFrame);
}

// A record with our seq or an earlier one does not continue the chain after us.
TEST(AbandonedSpan, LookalikeWithOurSeqOrAnEarlierOneIsSkipped) {
  LogBuffer buf(kLap);
  buf.put_record(64 + 16, kLen, kSeq);
  buf.put_record(64 + 32, kLen, kSeq - 1);
  buf.set_tail(64 + kFrame, kSeq + 1);

  const AbandonedSpan sut = find(buf, 64);

  ASSERT_EQ(sut.kind, Kind::kFound);
  EXPECT_EQ(sut.end, 64 + kFrame);
}

TEST(AbandonedSpan, LookalikeTooLongForTheLapIsSkipped) {
  constexpr uint64_t kAt = kLap - 64;
  LogBuffer buf(kLap);
  buf.put_record(kAt + 32, 48, kSeq + 1);  // 48 bytes where 32 are left
  buf.set_tail(kLap, kSeq + 1);

  const AbandonedSpan sut = find(buf, kAt);

  ASSERT_EQ(sut.kind, Kind::kFound);
  EXPECT_EQ(sut.end, kLap);
  EXPECT_EQ(sut.seqs, 1u);
}

// A reader that started here without a seq learns only where the next record begins.
TEST(AbandonedSpan, UnknownSeqFindsOnlyTheEnd) {
  LogBuffer buf(kLap);
  buf.put_record(64 + kFrame, kLen, kSeq + 1);
  buf.set_tail(64 + 2 * kFrame, kSeq + 2);

  const AbandonedSpan sut = find(buf, 64, kUnknownSeq);

  ASSERT_EQ(sut.kind, Kind::kFound);
  EXPECT_EQ(sut.end, 64 + kFrame);
  EXPECT_EQ(sut.boundary_seq, kSeq + 1);
  EXPECT_EQ(sut.seqs, 0u);
}

// --- kFound at the lap end ------------------------------------------------------------------

// A lap-end padding claim takes no seq: the next lap's first record carries the same seq.
TEST(AbandonedSpan, DeadPaddingClaimEndsAtTheLapEnd) {
  constexpr uint64_t kAt = kLap - 32;
  LogBuffer buf(kLap);
  buf.put_record(kLap, kLen, kSeq);
  buf.set_tail(kLap + kFrame, kSeq + 1);

  const AbandonedSpan sut = find(buf, kAt);

  ASSERT_EQ(sut.kind, Kind::kFound);
  EXPECT_EQ(sut.end, kLap);
  EXPECT_EQ(sut.seqs, 0u);
  EXPECT_EQ(sut.boundary_seq, kSeq);
  EXPECT_EQ(sut.part_count(), 1u);
}

// The padding claim's tail move ends exactly at the lap end and nothing came after it yet.
TEST(AbandonedSpan, DeadPaddingClaimWithTheTailAtTheLapEndEndsThere) {
  constexpr uint64_t kAt = kLap - 32;
  LogBuffer buf(kLap);
  buf.set_tail(kLap, kSeq);

  const AbandonedSpan sut = find(buf, kAt);

  ASSERT_EQ(sut.kind, Kind::kFound);
  EXPECT_EQ(sut.end, kLap);
  EXPECT_EQ(sut.seqs, 0u);
}

TEST(AbandonedSpan, DeadClaimsUpToTheLapEndEndAtTheNextLapsFirstRecord) {
  constexpr uint64_t kAt = kLap - 2 * kFrame - 16;  // two dead 48-byte claims and dead padding
  LogBuffer buf(kLap);
  buf.put_record(kLap, kLen, kSeq + 2);
  buf.set_tail(kLap + kFrame, kSeq + 3);

  const AbandonedSpan sut = find(buf, kAt);

  ASSERT_EQ(sut.kind, Kind::kFound);
  EXPECT_EQ(sut.end, kLap);
  EXPECT_EQ(sut.seqs, 2u);
  EXPECT_EQ(sut.part_count(), 1u);
}

// The lap-end padding claim died, and so did the next lap's first claim: the span crosses.
TEST(AbandonedSpan, SpanCrossesTheLapEndWhenTheNextLapsFirstClaimDiedToo) {
  constexpr uint64_t kAt = kLap - 32;
  LogBuffer buf(kLap);
  buf.put_record(kLap + kFrame, kLen, kSeq + 1);
  buf.set_tail(kLap + 2 * kFrame, kSeq + 2);

  const AbandonedSpan sut = find(buf, kAt);

  ASSERT_EQ(sut.kind, Kind::kFound);
  EXPECT_EQ(sut.end, kLap + kFrame);
  EXPECT_EQ(sut.seqs, 1u);
  EXPECT_EQ(sut.lap_end, kLap);
  EXPECT_EQ(sut.part_count(), 2u);
}

TEST(AbandonedSpan, CrossingSpanEndsAtTheTailInTheNextLap) {
  constexpr uint64_t kAt = kLap - 32;
  LogBuffer buf(kLap);
  buf.set_tail(kLap + kFrame, kSeq + 1);

  const AbandonedSpan sut = find(buf, kAt);

  ASSERT_EQ(sut.kind, Kind::kFound);
  EXPECT_EQ(sut.end, kLap + kFrame);
  EXPECT_EQ(sut.seqs, 1u);
  EXPECT_EQ(sut.part_count(), 2u);
}

// --- kUnknown -------------------------------------------------------------------------------

// The tail is two laps on and nothing in the next lap continues the seqs yet.
TEST(AbandonedSpan, NoBoundaryWrittenInTheNextLapIsUnknown) {
  constexpr uint64_t kAt = kLap - 32;
  LogBuffer buf(kLap);
  buf.set_tail(2 * kLap + kFrame, kSeq + 6);

  const AbandonedSpan sut = find(buf, kAt);

  EXPECT_EQ(sut.kind, Kind::kUnknown);
}

TEST(AbandonedSpan, JournalNextSegmentMissingIsUnknown) {
  constexpr uint64_t kAt = kLap - 32;
  FakeSegments segments(kLap, 2);
  segments.missing = {1};
  const LogStorage journal = LogStorage::segments(&segments, kLap, false);
  Tail tail{};
  tail.position = kLap + kFrame;
  tail.seq = kSeq + 1;

  const AbandonedSpan sut = find_abandoned_span(journal, tail, kAt, kSeq);

  EXPECT_EQ(sut.kind, Kind::kUnknown);
}

// --- kCorrupt: the bounds contradict the seqs -----------------------------------------------

TEST(AbandonedSpan, BoundarySeqBeforeOurSeqIsCorrupt) {
  LogBuffer buf(kLap);
  buf.set_tail(64 + kFrame, kSeq - 1);

  EXPECT_EQ(find(buf, 64).kind, Kind::kCorrupt);
}

TEST(AbandonedSpan, MoreSeqsThanClaimsCanFitIsCorrupt) {
  LogBuffer buf(kLap);
  buf.set_tail(2 * kHeaderBytes, kSeq + 3);

  EXPECT_EQ(find(buf, 0).kind, Kind::kCorrupt);
}

// A record 16 bytes after us with the next seq: no claim is that short.
TEST(AbandonedSpan, NextRecordSixteenBytesOnIsCorrupt) {
  LogBuffer buf(kLap);
  buf.put_record(64 + 16, kLen, kSeq + 1);
  buf.set_tail(64 + 16 + kFrame, kSeq + 2);

  EXPECT_EQ(find(buf, 64).kind, Kind::kCorrupt);
}

// Only a padding claim takes no seq, and it runs to the lap end.
TEST(AbandonedSpan, NoSeqShortOfTheLapEndIsCorrupt) {
  LogBuffer buf(kLap);
  buf.set_tail(64 + kFrame, kSeq);

  EXPECT_EQ(find(buf, 64).kind, Kind::kCorrupt);
}

TEST(AbandonedSpan, CrossingSpanWithoutASeqIsCorrupt) {
  constexpr uint64_t kAt = kLap - 32;
  LogBuffer buf(kLap);
  buf.set_tail(kLap + kFrame, kSeq);

  EXPECT_EQ(find(buf, kAt).kind, Kind::kCorrupt);
}

// --- part() ---------------------------------------------------------------------------------

TEST(AbandonedSpanPart, SpanWithinALapIsOnePart) {
  const AbandonedSpan sut{Kind::kFound, 64, 208, kSeq, 3, kSeq + 3, kLap};

  ASSERT_EQ(sut.part_count(), 1u);
  const VoidPart part = sut.part(0);

  EXPECT_EQ(part.position, 64u);
  EXPECT_EQ(part.end, 208u);
  EXPECT_EQ(part.seq, kSeq);
  EXPECT_EQ(part.seqs, 3u);
}

TEST(AbandonedSpanPart, NextLapTakesAsManySixteenByteVoidsAsFit) {
  const AbandonedSpan sut{Kind::kFound, kLap - 96, kLap + 32, kSeq, 3, kSeq + 3, kLap};

  ASSERT_EQ(sut.part_count(), 2u);
  const VoidPart first = sut.part(0);
  const VoidPart next = sut.part(1);

  EXPECT_EQ(first.position, kLap - 96);
  EXPECT_EQ(first.end, kLap);
  EXPECT_EQ(first.seq, kSeq);
  EXPECT_EQ(first.seqs, 1u);
  EXPECT_EQ(next.position, kLap);
  EXPECT_EQ(next.end, kLap + 32);
  EXPECT_EQ(next.seq, kSeq + 1);
  EXPECT_EQ(next.seqs, 2u);
}

// With room for all of them in the next lap, p's lap keeps a plain padding (no seq).
TEST(AbandonedSpanPart, NextLapWithRoomTakesEverySeq) {
  const AbandonedSpan sut{Kind::kFound, kLap - 32, kLap + 96, kSeq, 2, kSeq + 2, kLap};

  const VoidPart first = sut.part(0);
  const VoidPart next = sut.part(1);

  EXPECT_EQ(first.seqs, 0u);
  EXPECT_EQ(next.seq, kSeq);
  EXPECT_EQ(next.seqs, 2u);
}

}  // namespace
}  // namespace shmbus::log
