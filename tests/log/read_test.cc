// The reader's side of the record protocol (log/read.h): what read_frame() makes of each pair a
// position can hold, one test per FrameState and per branch that leads to it.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "log/log_buffer.h"
#include "log/read.h"
#include "log/record_format.h"
#include "log/void_frames.h"

namespace shmbus::log {
namespace {

using test::FakeSegments;
using test::LogBuffer;

constexpr uint64_t kLap = 256;
constexpr uint64_t kSeq = 10;
constexpr int32_t kLen = 40;  // a 48-byte frame
constexpr uint64_t kFrame = align_frame(kLen);

// --- kEmpty ---------------------------------------------------------------------------------

TEST(ReadFrame, ZeroedBytesAtTheTailAreEmpty) {
  LogBuffer buf(kLap);
  buf.set_tail(64, kSeq);

  const FrameView sut = read_frame(buf.log(), buf.tail(), 64, kSeq);

  EXPECT_EQ(sut.state, FrameState::kEmpty);
  EXPECT_EQ(sut.bytes, buf.at(64));
}

// Between the tail CAS and the commit the frame carries no length: only the tail tells.
TEST(ReadFrame, ClaimBeingFilledOverZeroedBytesIsEmptyButClaimedByTheTail) {
  LogBuffer buf(kLap);
  buf.set_tail(64 + kFrame, kSeq + 1);

  const FrameView sut = read_frame(buf.log(), buf.tail(), 64, kSeq);

  EXPECT_EQ(sut.state, FrameState::kEmpty);
  EXPECT_TRUE(claimed_by_tail(buf.tail(), 64));
}

TEST(ReadFrame, EarlierLapsRecordIsEmpty) {
  constexpr uint64_t kAt = kLap + 64;
  LogBuffer buf(kLap);
  buf.put_record(64, 96, kSeq - 4);  // lap 0, same bytes
  buf.set_tail(kAt + kFrame, kSeq + 1);

  const FrameView sut = read_frame(buf.log(), buf.tail(), kAt, kSeq);

  EXPECT_EQ(sut.state, FrameState::kEmpty);
}

TEST(ReadFrame, PayloadLeftoversAreEmpty) {
  constexpr uint64_t kAt = kLap + 64;
  LogBuffer buf(kLap);
  buf.fill(0, kLap, std::byte{0xab});
  buf.set_tail(kAt, kSeq);

  const FrameView sut = read_frame(buf.log(), buf.tail(), kAt, kSeq);

  EXPECT_EQ(sut.state, FrameState::kEmpty);
}

// The last lap's payload can hold a word of this lap's epoch; its seq gives it away.
TEST(ReadFrame, LeftoversWithThisLapsEpochButAnotherSeqAtTheTailAreEmpty) {
  constexpr uint64_t kAt = kLap + 64;
  LogBuffer buf(kLap);
  buf.put_pair(kAt, CommitWord{kLen, kTypeData, 0, 1}, 0x5eed);
  buf.set_tail(kAt, kSeq);

  const FrameView sut = read_frame(buf.log(), buf.tail(), kAt, kSeq);

  EXPECT_EQ(sut.state, FrameState::kEmpty);
}

// Inside a void being written: the poison has length 0, so nothing is delivered.
TEST(ReadFrame, PoisonIsEmpty) {
  LogBuffer buf(kLap);
  buf.put_pair(64, poison_pair(0));
  buf.set_tail(192, kSeq + 3);

  const FrameView sut = read_frame(buf.log(), buf.tail(), 64, kSeq);

  EXPECT_EQ(sut.state, FrameState::kEmpty);
  EXPECT_TRUE(claimed_by_tail(buf.tail(), 64));
}

TEST(ReadFrame, UnknownSeqAtTheTailIsEmpty) {
  LogBuffer buf(kLap);
  buf.put_record(64, kLen, kSeq);
  buf.set_tail(64, kSeq);

  const FrameView sut = read_frame(buf.log(), buf.tail(), 64, kUnknownSeq);

  EXPECT_EQ(sut.state, FrameState::kEmpty);
}

TEST(ReadFrame, JournalSegmentNotMadeYetIsEmpty) {
  FakeSegments segments(kLap, 2);
  segments.missing = {1};
  const LogStorage journal = LogStorage::segments(&segments, kLap, false);
  Tail tail{};
  tail.position = kLap + 64;

  const FrameView sut = read_frame(journal, tail, kLap, kSeq);

  EXPECT_EQ(sut.state, FrameState::kEmpty);
  EXPECT_EQ(sut.bytes, nullptr);
}

// Before the tail reaches a segment its file may not exist: a reader waiting there does not ask
// for it (a stat() per poll); once the tail has passed, it does.
TEST(ReadFrame, ReaderAsksForAnUnmappedSegmentOnlyOnceTheTailHasPassed) {
  FakeSegments segments(kLap, 2);
  int asked = 0;
  segments.on_map = [&](uint64_t) { ++asked; };
  const LogStorage journal = LogStorage::segments(&segments, kLap, false);
  Tail tail{};
  tail.position = kLap;

  EXPECT_EQ(read_frame(journal, tail, kLap, kSeq).state, FrameState::kEmpty);
  EXPECT_EQ(read_frame(journal, tail, kLap, kSeq).state, FrameState::kEmpty);
  EXPECT_EQ(asked, 0);

  tail.position = kLap + 64;
  (void)read_frame(journal, tail, kLap, kSeq);
  EXPECT_EQ(asked, 1);
  EXPECT_TRUE(journal.mapped(kLap));
}

// --- kPending -------------------------------------------------------------------------------

TEST(ReadFrame, ThisLapsLookalikeUnderAClaimBeingFilledIsPending) {
  constexpr uint64_t kAt = kLap + 64;
  LogBuffer buf(kLap);
  buf.put_pair(kAt, CommitWord{kLen, kTypeData, 0, 1}, 0x5eed);
  buf.set_tail(kAt + kFrame, kSeq + 1);

  const FrameView sut = read_frame(buf.log(), buf.tail(), kAt, kSeq);

  EXPECT_EQ(sut.state, FrameState::kPending);
}

// Epochs compare modulo 2^16: a word 2^15 laps old looks newer. With the tail within a lap of
// the position it cannot be a newer lap's record: a claim being filled over leftovers.
TEST(ReadFrame, LaterEpochWithinALapOfTheTailIsPending) {
  LogBuffer buf(kLap);
  buf.put_pair(64, CommitWord{kLen, kTypeData, 0, 1}, kSeq + 20);
  buf.set_tail(64 + kFrame, kSeq + 1);

  const FrameView sut = read_frame(buf.log(), buf.tail(), 64, kSeq);

  EXPECT_EQ(sut.state, FrameState::kPending);
}

// A journal is never overwritten: a word of a later epoch is leftovers of a recycled segment.
TEST(ReadFrame, JournalIsNeverLapped) {
  FakeSegments segments(kLap, 1);
  const LogStorage journal = LogStorage::segments(&segments, kLap, false);
  const uint64_t word = CommitWord{kLen, kTypeData, 0, 1}.encode();
  std::memcpy(segments.at(64), &word, sizeof word);
  Tail tail{};
  tail.position = 4 * kLap;

  const FrameView sut = read_frame(journal, tail, 64, kSeq);

  EXPECT_EQ(sut.state, FrameState::kPending);
}

// --- kData ----------------------------------------------------------------------------------

TEST(ReadFrame, CommittedRecordIsData) {
  LogBuffer buf(kLap);
  buf.put_record(64, kLen, kSeq);
  buf.set_tail(64 + kFrame, kSeq + 1);

  const FrameView sut = read_frame(buf.log(), buf.tail(), 64, kSeq);

  ASSERT_EQ(sut.state, FrameState::kData);
  EXPECT_EQ(sut.word.len, kLen);
  EXPECT_EQ(sut.frame_bytes, kFrame);
  EXPECT_EQ(sut.bytes, buf.at(64));
}

// The pair alone decides: a reader that knows its seq does not need the tail.
TEST(ReadFrame, CommittedRecordIsDataWhateverTheTailSays) {
  LogBuffer buf(kLap);
  buf.put_record(64, kLen, kSeq);
  buf.set_tail(0, 0);

  EXPECT_EQ(read_frame(buf.log(), buf.tail(), 64, kSeq).state, FrameState::kData);
}

TEST(ReadFrame, CommittedRecordInALaterLapIsData) {
  constexpr uint64_t kAt = 3 * kLap + 64;
  LogBuffer buf(kLap);
  buf.put_record(kAt, kLen, kSeq);
  buf.set_tail(kAt + kFrame, kSeq + 1);

  const FrameView sut = read_frame(buf.log(), buf.tail(), kAt, kSeq);

  ASSERT_EQ(sut.state, FrameState::kData);
  EXPECT_EQ(sut.word.epoch, 3);
}

TEST(ReadFrame, UnknownSeqReadsThisLapsRecordOnceTheTailPassedIt) {
  LogBuffer buf(kLap);
  buf.put_record(64, kLen, kSeq);
  buf.set_tail(64 + kFrame, kSeq + 1);

  const FrameView sut = read_frame(buf.log(), buf.tail(), 64, kUnknownSeq);

  EXPECT_EQ(sut.state, FrameState::kData);
}

TEST(ReadFrame, RecordOfMaxSizeIsData) {
  constexpr int32_t kMax = static_cast<int32_t>(kLap / 2);  // TopicHandle::max_record_bytes()
  LogBuffer buf(kLap);
  buf.put_record(0, kMax, kSeq);

  const FrameView sut = read_frame(buf.log(), buf.tail(), 0, kSeq);

  ASSERT_EQ(sut.state, FrameState::kData);
  EXPECT_EQ(sut.frame_bytes, static_cast<uint64_t>(kMax));
}

TEST(ReadFrame, RecordEndingExactlyAtTheLapEndIsData) {
  constexpr uint64_t kAt = kLap - kFrame;
  LogBuffer buf(kLap);
  buf.put_record(kAt, kLen, kSeq);

  const FrameView sut = read_frame(buf.log(), buf.tail(), kAt, kSeq);

  ASSERT_EQ(sut.state, FrameState::kData);
  EXPECT_EQ(sut.frame_bytes, buf.log().room(kAt));
}

// 57 bytes round up to a 64-byte frame: the 7 bytes of slack count against the room.
TEST(ReadFrame, UnalignedLengthRoundedUpToTheLapEndIsData) {
  constexpr uint64_t kAt = kLap - 64;
  LogBuffer buf(kLap);
  buf.put_record(kAt, 57, kSeq);

  const FrameView sut = read_frame(buf.log(), buf.tail(), kAt, kSeq);

  ASSERT_EQ(sut.state, FrameState::kData);
  EXPECT_EQ(sut.frame_bytes, 64u);
}

TEST(ReadFrame, UnalignedLengthRoundedUpPastTheLapEndIsCorrupt) {
  constexpr uint64_t kAt = kLap - 48;  // 57 bytes would fit, their 64-byte frame does not
  LogBuffer buf(kLap);
  buf.put_record(kAt, 57, kSeq);

  EXPECT_EQ(read_frame(buf.log(), buf.tail(), kAt, kSeq).state, FrameState::kCorrupt);
}

TEST(ReadFrame, HeadersFillingTheWholeRecordAreData) {
  LogBuffer buf(kLap);
  buf.put_record(64, kLen, kSeq, /*headers_len=*/kLen - kHeaderBytes);

  EXPECT_EQ(read_frame(buf.log(), buf.tail(), 64, kSeq).state, FrameState::kData);
}

// --- kPadding -------------------------------------------------------------------------------

TEST(ReadFrame, LapEndPaddingIsPadding) {
  constexpr uint64_t kAt = kLap - 32;
  LogBuffer buf(kLap);
  buf.put_padding(kAt, 32, kSeq);

  const FrameView sut = read_frame(buf.log(), buf.tail(), kAt, kSeq);

  ASSERT_EQ(sut.state, FrameState::kPadding);
  EXPECT_EQ(sut.frame_bytes, 32u);
  EXPECT_EQ(sut.word.flags, 0);
}

TEST(ReadFrame, SixteenBytesOfPaddingAtTheLapEndIsPadding) {
  constexpr uint64_t kAt = kLap - 16;
  LogBuffer buf(kLap);
  buf.put_padding(kAt, 16, kSeq);

  const FrameView sut = read_frame(buf.log(), buf.tail(), kAt, kSeq);

  ASSERT_EQ(sut.state, FrameState::kPadding);
  EXPECT_EQ(sut.frame_bytes, 16u);
}

TEST(ReadFrame, VoidedClaimIsPadding) {
  LogBuffer buf(kLap);
  buf.put_padding(64, kFrame, kSeq, /*voided=*/true);

  const FrameView sut = read_frame(buf.log(), buf.tail(), 64, kSeq);

  ASSERT_EQ(sut.state, FrameState::kPadding);
  EXPECT_EQ(sut.frame_bytes, kFrame);
  EXPECT_EQ(sut.word.flags, kFlagVoided);
}

// --- kLapped --------------------------------------------------------------------------------

TEST(ReadFrame, NewerLapsRecordIsLapped) {
  LogBuffer buf(kLap);
  buf.put_record(kLap + 64, kLen, kSeq + 6);  // lap 1 over the bytes of position 64
  buf.set_tail(kLap + 64 + kFrame, kSeq + 7);

  EXPECT_EQ(read_frame(buf.log(), buf.tail(), 64, kSeq).state, FrameState::kLapped);
}

// A tail exactly a lap ahead counts: the next claim at these bytes may be made at any moment.
TEST(ReadFrame, TailExactlyALapAheadIsLapped) {
  LogBuffer buf(kLap);
  buf.put_record(64, kLen, kSeq);
  buf.set_tail(64 + kLap, kSeq + 6);

  EXPECT_EQ(read_frame(buf.log(), buf.tail(), 64, kUnknownSeq).state, FrameState::kLapped);
}

TEST(ReadFrame, TailLessThanALapAheadIsNotLapped) {
  LogBuffer buf(kLap);
  buf.put_record(64, kLen, kSeq);
  buf.set_tail(64 + kLap - 16, kSeq + 6);

  EXPECT_EQ(read_frame(buf.log(), buf.tail(), 64, kUnknownSeq).state, FrameState::kData);
}

// --- kCorrupt -------------------------------------------------------------------------------

TEST(ReadFrame, NegativeLengthIsCorrupt) {
  LogBuffer buf(kLap);
  buf.put_pair(64, CommitWord{-kLen, kTypeData, 0, 0}, kSeq);

  EXPECT_EQ(read_frame(buf.log(), buf.tail(), 64, kSeq).state, FrameState::kCorrupt);
}

TEST(ReadFrame, RecordOverrunningTheLapEndIsCorrupt) {
  constexpr uint64_t kAt = kLap - 32;  // room 32, frame 48
  LogBuffer buf(kLap);
  buf.put_record(kAt, kLen, kSeq);

  EXPECT_EQ(read_frame(buf.log(), buf.tail(), kAt, kSeq).state, FrameState::kCorrupt);
}

TEST(ReadFrame, PaddingOverrunningTheLapEndIsCorrupt) {
  constexpr uint64_t kAt = kLap - 16;
  LogBuffer buf(kLap);
  buf.put_padding(kAt, 32, kSeq);

  EXPECT_EQ(read_frame(buf.log(), buf.tail(), kAt, kSeq).state, FrameState::kCorrupt);
}

// 8 bytes: shorter than the claim pair, which every frame holds.
TEST(ReadFrame, PaddingShorterThanSixteenBytesIsCorrupt) {
  LogBuffer buf(kLap);
  buf.put_padding(64, 8, kSeq);

  EXPECT_EQ(read_frame(buf.log(), buf.tail(), 64, kSeq).state, FrameState::kCorrupt);
}

TEST(ReadFrame, DataShorterThanAHeaderIsCorrupt) {
  LogBuffer buf(kLap);
  buf.put_record(64, kHeaderBytes - 1, kSeq);

  EXPECT_EQ(read_frame(buf.log(), buf.tail(), 64, kSeq).state, FrameState::kCorrupt);
}

TEST(ReadFrame, UnknownTypeIsCorrupt) {
  LogBuffer buf(kLap);
  buf.put_pair(64, CommitWord{kLen, 3, 0, 0}, kSeq);

  EXPECT_EQ(read_frame(buf.log(), buf.tail(), 64, kSeq).state, FrameState::kCorrupt);
}

TEST(ReadFrame, TypeNoneWithALengthIsCorrupt) {
  LogBuffer buf(kLap);
  buf.put_pair(64, CommitWord{kLen, kTypeNone, 0, 0}, kSeq);

  EXPECT_EQ(read_frame(buf.log(), buf.tail(), 64, kSeq).state, FrameState::kCorrupt);
}

TEST(ReadFrame, HeadersLongerThanTheRecordAreCorrupt) {
  LogBuffer buf(kLap);
  buf.put_record(64, kLen, kSeq, /*headers_len=*/kLen - kHeaderBytes + 1);

  EXPECT_EQ(read_frame(buf.log(), buf.tail(), 64, kSeq).state, FrameState::kCorrupt);
}

TEST(ReadFrame, HugeLengthIsCorrupt) {
  LogBuffer buf(kLap);
  buf.put_pair(64, CommitWord{0x7fffffff, kTypeData, 0, 0}, kSeq);

  EXPECT_EQ(read_frame(buf.log(), buf.tail(), 64, kSeq).state, FrameState::kCorrupt);
}

// --- claimed_by_tail() ----------------------------------------------------------------------

TEST(ClaimedByTail, TailPastThePositionClaimsIt) {
  LogBuffer buf(kLap);
  buf.set_tail(80, kSeq);

  EXPECT_TRUE(claimed_by_tail(buf.tail(), 64));
}

TEST(ClaimedByTail, TailAtThePositionDoesNot) {
  LogBuffer buf(kLap);
  buf.set_tail(64, kSeq);

  EXPECT_FALSE(claimed_by_tail(buf.tail(), 64));
}

}  // namespace
}  // namespace shmbus::log
