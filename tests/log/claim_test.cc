// The writer's side of the record protocol (log/claim.h), one test per outcome: claim() with
// room, at the lap end, without space, beaten by another claimer, on a journal that refuses a
// segment; commit() over leftovers and over an unblocker's void; abort_claim(); and the small
// rules they use (seq_step, voided_by_unblocker, lapped_since).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "log/claim.h"
#include "log/record_format.h"
#include "log/void_frames.h"
#include "log/log_buffer.h"

namespace shmbus::log {
namespace {

using test::FakeSegments;
using test::LogBuffer;

constexpr uint64_t kLap = 256;
constexpr uint64_t kSeq = 10;
constexpr int32_t kLen = 40;  // a 48-byte frame
constexpr uint64_t kFrame = align_frame(kLen);

auto always = [](uint64_t) { return true; };

// --- claim() --------------------------------------------------------------------------------

TEST(Claim, ClaimsTheFrameAtTheTailAndAdvancesIt) {
  LogBuffer sut(kLap);
  sut.set_tail(0, kSeq);
  ClaimedFrame out;

  const std::optional<Errc> e = err(claim(sut.log(), sut.tail(), sut.intent(), kLen, 0, always, out));

  ASSERT_EQ(e, kSuccess);
  EXPECT_EQ(out.position, 0u);
  EXPECT_EQ(out.seq, kSeq);
  EXPECT_EQ(out.frame, sut.at(0));
  EXPECT_EQ(out.committed_word, (CommitWord{kLen, kTypeData, 0, 0}.encode()));
  EXPECT_EQ(sut.tail_value(), (TailValue{kFrame, kSeq + 1}));
}

TEST(Claim, StoresItsPositionInTheIntentSlot) {
  constexpr uint64_t kAt = 96;
  LogBuffer sut(kLap);
  sut.set_tail(kAt, kSeq);
  ClaimedFrame out;

  ASSERT_EQ(err(claim(sut.log(), sut.tail(), sut.intent(), kLen, 0, always, out)), kSuccess);

  EXPECT_EQ(sut.intent().load(), kAt);
}

// Layout 5: the claim does not touch the frame; the pair is written only by the commit.
TEST(Claim, LeavesTheLeftoversUntilTheCommit) {
  LogBuffer sut(kLap);
  sut.fill(0, kLap, std::byte{0xab});
  const ClaimPair before = sut.pair_at(0);
  sut.set_tail(0, kSeq);
  ClaimedFrame out;

  ASSERT_EQ(err(claim(sut.log(), sut.tail(), sut.intent(), kLen, 0, always, out)), kSuccess);

  EXPECT_EQ(sut.pair_at(0), before);
}

TEST(Claim, CommittedWordCarriesTheFlagsAndTheLapsEpoch) {
  constexpr uint64_t kAt = 2 * kLap + 32;
  LogBuffer sut(kLap);
  sut.set_tail(kAt, kSeq);
  ClaimedFrame out;

  ASSERT_EQ(err(claim(sut.log(), sut.tail(), sut.intent(), kLen, kFlagHeaders, always, out)), kSuccess);

  EXPECT_EQ(out.committed_word, (CommitWord{kLen, kTypeData, kFlagHeaders, 2}.encode()));
}

TEST(Claim, RecordOfMaxSizeClaimsHalfALap) {
  constexpr int32_t kMax = static_cast<int32_t>(kLap / 2);  // TopicHandle::max_record_bytes()
  LogBuffer sut(kLap);
  sut.set_tail(kLap, kSeq);
  ClaimedFrame out;

  ASSERT_EQ(err(claim(sut.log(), sut.tail(), sut.intent(), kMax, 0, always, out)), kSuccess);

  EXPECT_EQ(out.position, kLap);
  EXPECT_EQ(sut.tail_value(), (TailValue{kLap + kMax, kSeq + 1}));
}

TEST(Claim, FrameEndingExactlyAtTheLapEndNeedsNoPadding) {
  constexpr uint64_t kAt = kLap - kFrame;
  LogBuffer sut(kLap);
  sut.set_tail(kAt, kSeq);
  ClaimedFrame out;

  ASSERT_EQ(err(claim(sut.log(), sut.tail(), sut.intent(), kLen, 0, always, out)), kSuccess);

  EXPECT_EQ(out.position, kAt);
  EXPECT_EQ(sut.tail_value(), (TailValue{kLap, kSeq + 1}));
  EXPECT_EQ(sut.pair_at(kAt), (ClaimPair{}));  // no padding written
}

// 49 bytes need a 64-byte frame: with 48 bytes left that is padding, not a fit.
TEST(Claim, UnalignedLengthIsClaimedByItsAlignedFrame) {
  constexpr uint64_t kAt = kLap - 48;
  LogBuffer sut(kLap);
  sut.set_tail(kAt, kSeq);
  ClaimedFrame out;

  ASSERT_EQ(err(claim(sut.log(), sut.tail(), sut.intent(), 49, 0, always, out)), kSuccess);

  EXPECT_EQ(sut.pair_at(kAt), (ClaimPair{CommitWord{48, kTypePadding, 0, 0}, kSeq}));
  EXPECT_EQ(out.position, kLap);
  EXPECT_EQ(sut.tail_value(), (TailValue{kLap + 64, kSeq + 1}));
}

TEST(Claim, FrameThatDoesNotFitPadsToTheLapEndAndClaimsInTheNextLap) {
  constexpr uint64_t kAt = kLap - 32;  // 32 bytes left, 48 needed
  LogBuffer sut(kLap);
  sut.set_tail(kAt, kSeq);
  ClaimedFrame out;

  ASSERT_EQ(err(claim(sut.log(), sut.tail(), sut.intent(), kLen, 0, always, out)), kSuccess);

  constexpr ClaimPair kPadding{CommitWord{32, kTypePadding, 0, 0}, kSeq};  // takes no seq
  EXPECT_EQ(sut.pair_at(kAt), kPadding);
  EXPECT_EQ(out.position, kLap);
  EXPECT_EQ(out.seq, kSeq);
  EXPECT_EQ(out.committed_word, (CommitWord{kLen, kTypeData, 0, 1}.encode()));
  EXPECT_EQ(sut.tail_value(), (TailValue{kLap + kFrame, kSeq + 1}));
}

TEST(Claim, SixteenBytesLeftGetTheShortestPadding) {
  constexpr uint64_t kAt = kLap - kRecordAlign;
  LogBuffer sut(kLap);
  sut.set_tail(kAt, kSeq);
  ClaimedFrame out;

  ASSERT_EQ(err(claim(sut.log(), sut.tail(), sut.intent(), kLen, 0, always, out)), kSuccess);

  constexpr ClaimPair kPadding{CommitWord{16, kTypePadding, 0, 0}, kSeq};
  EXPECT_EQ(sut.pair_at(kAt), kPadding);
  EXPECT_EQ(out.position, kLap);
}

TEST(Claim, RefusedSpaceIsWouldBlockAndLeavesTheTail) {
  constexpr uint64_t kAt = 64;
  LogBuffer sut(kLap);
  sut.set_tail(kAt, kSeq);
  std::vector<uint64_t> asked;
  auto refuse = [&](uint64_t end) {
    asked.push_back(end);
    return false;
  };
  ClaimedFrame out;

  const std::optional<Errc> e = err(claim(sut.log(), sut.tail(), sut.intent(), kLen, 0, refuse, out));

  EXPECT_EQ(e, Errc::kWouldBlock);
  EXPECT_EQ(asked, std::vector<uint64_t>{kAt + kFrame});
  EXPECT_EQ(sut.tail_value(), (TailValue{kAt, kSeq}));
}

// The padding and the record after it are asked for at once, so that a refusal writes nothing.
TEST(Claim, SpaceForThePaddingAndTheRecordIsAskedTogether) {
  constexpr uint64_t kAt = kLap - 32;
  LogBuffer sut(kLap);
  sut.set_tail(kAt, kSeq);
  std::vector<uint64_t> asked;
  auto refuse = [&](uint64_t end) {
    asked.push_back(end);
    return false;
  };
  ClaimedFrame out;

  const std::optional<Errc> e = err(claim(sut.log(), sut.tail(), sut.intent(), kLen, 0, refuse, out));

  EXPECT_EQ(e, Errc::kWouldBlock);
  EXPECT_EQ(asked, std::vector<uint64_t>{kLap + kFrame});
  EXPECT_EQ(sut.tail_value(), (TailValue{kAt, kSeq}));
  EXPECT_EQ(sut.pair_at(kAt), (ClaimPair{}));
}

// Another publisher's claim lands between our tail read and our tail CAS (staged from inside
// has_space, which runs between the two): the CAS fails and we claim after it.
TEST(Claim, BeatenByAnotherClaimerClaimsAfterIt) {
  LogBuffer sut(kLap);
  sut.set_tail(0, kSeq);
  bool raced = false;
  auto race = [&](uint64_t) {
    if (!raced) sut.set_tail(64, kSeq + 1);
    raced = true;
    return true;
  };
  ClaimedFrame out;

  ASSERT_EQ(err(claim(sut.log(), sut.tail(), sut.intent(), kLen, 0, race, out)), kSuccess);

  EXPECT_EQ(out.position, 64u);
  EXPECT_EQ(out.seq, kSeq + 1);
  EXPECT_EQ(sut.tail_value(), (TailValue{64 + kFrame, kSeq + 2}));
}

// An unblocker saw the lap-end padding claim die and wrote the same pair first (a plain
// padding, k = 0): the claimer keeps it and goes on in the next lap.
TEST(Claim, PaddingAnUnblockerWroteFirstIsKept) {
  constexpr uint64_t kAt = kLap - 32;
  LogBuffer sut(kLap);
  sut.set_tail(kAt, kSeq);
  sut.put_padding(kAt, 32, kSeq);
  const ClaimPair unblockers = sut.pair_at(kAt);
  ClaimedFrame out;

  ASSERT_EQ(err(claim(sut.log(), sut.tail(), sut.intent(), kLen, 0, always, out)), kSuccess);

  EXPECT_EQ(sut.pair_at(kAt), unblockers);
  EXPECT_EQ(out.position, kLap);
}

// A void in progress (poison of this lap) at the padding's place: the padding is not written
// over it, the unblocker finishes its own pairs.
TEST(Claim, PaddingDoesNotOverwriteAVoidInProgress) {
  constexpr uint64_t kAt = kLap - 32;
  LogBuffer sut(kLap);
  sut.set_tail(kAt, kSeq);
  sut.put_pair(kAt, poison_pair(0));
  ClaimedFrame out;

  ASSERT_EQ(err(claim(sut.log(), sut.tail(), sut.intent(), kLen, 0, always, out)), kSuccess);

  EXPECT_EQ(sut.pair_at(kAt), poison_pair(0));
  EXPECT_EQ(out.position, kLap);
}

TEST(Claim, JournalSegmentThatCannotBeMadeIsStorageError) {
  FakeSegments segments(kLap, 2);
  segments.missing = {0};
  const LogStorage sut = LogStorage::segments(&segments, kLap, true);
  Tail tail{};
  tail.position = 32;
  tail.seq = kSeq;
  std::atomic<uint64_t> intent{0};
  ClaimedFrame out;

  const std::optional<Errc> e = err(claim(sut, tail, intent, kLen, 0, always, out));

  EXPECT_EQ(e, Errc::kStorage);
  EXPECT_EQ(read_tail_exact(tail), (TailValue{32, kSeq}));
}

// Our tail was so stale that retention removed its segment; meanwhile the tail moved on into a
// segment that exists: the claim goes on there.
TEST(Claim, StaleTailInARemovedSegmentRetriesAtTheNewTail) {
  FakeSegments segments(kLap, 2);
  segments.missing = {0};
  const LogStorage sut = LogStorage::segments(&segments, kLap, true);
  Tail tail{};
  tail.position = 32;
  tail.seq = kSeq;
  segments.on_map = [&](uint64_t index) {
    if (index == 0) {
      tail.position = kLap + 64;
      tail.seq = kSeq + 5;
    }
  };
  std::atomic<uint64_t> intent{0};
  ClaimedFrame out;

  ASSERT_EQ(err(claim(sut, tail, intent, kLen, 0, always, out)), kSuccess);

  EXPECT_EQ(out.position, kLap + 64);
  EXPECT_EQ(out.seq, kSeq + 5);
  EXPECT_EQ(out.frame, segments.at(kLap + 64));
}

// --- commit() -------------------------------------------------------------------------------

// The claim of kLen bytes at `position` with seq kSeq, as claim() hands it out.
ClaimedFrame claimed(LogBuffer& buf, uint64_t position, uint8_t flags = 0) {
  return {position, kSeq, buf.at(position), CommitWord{kLen, kTypeData, flags, buf.epoch(position)}.encode()};
}

TEST(Commit, OverZeroedBytesWritesThePair) {
  LogBuffer buf(kLap);
  const ClaimedFrame sut = claimed(buf, 64);

  ASSERT_EQ(err(commit(sut)), kSuccess);

  EXPECT_EQ(buf.pair_at(64), (ClaimPair{CommitWord{kLen, kTypeData, 0, 0}, kSeq}));
}

TEST(Commit, OverAnEarlierLapsRecordSucceeds) {
  constexpr uint64_t kAt = kLap + 64;
  LogBuffer buf(kLap);
  buf.put_record(64, 96, kSeq - 3);  // lap 0's record at the same bytes
  const ClaimedFrame sut = claimed(buf, kAt);

  ASSERT_EQ(err(commit(sut)), kSuccess);

  EXPECT_EQ(buf.pair_at(kAt), (ClaimPair{CommitWord{kLen, kTypeData, 0, 1}, kSeq}));
}

TEST(Commit, OverPayloadLeftoversSucceeds) {
  constexpr uint64_t kAt = kLap + 64;
  LogBuffer buf(kLap);
  buf.fill(0, kLap, std::byte{0xab});
  const ClaimedFrame sut = claimed(buf, kAt);

  ASSERT_EQ(err(commit(sut)), kSuccess);

  EXPECT_EQ(buf.pair_at(kAt).seq, kSeq);
}

// Poison carries its lap's epoch so that an old lap's poison stops no later commit.
TEST(Commit, OverAnEarlierLapsPoisonSucceeds) {
  constexpr uint64_t kAt = kLap + 64;
  LogBuffer buf(kLap);
  buf.put_pair(64, poison_pair(0));
  const ClaimedFrame sut = claimed(buf, kAt);

  ASSERT_EQ(err(commit(sut)), kSuccess);

  EXPECT_EQ(buf.pair_at(kAt), (ClaimPair{CommitWord{kLen, kTypeData, 0, 1}, kSeq}));
}

// An earlier lap's voided padding with our very seq is not this lap's void.
TEST(Commit, OverAnEarlierLapsVoidSucceeds) {
  constexpr uint64_t kAt = kLap + 64;
  LogBuffer buf(kLap);
  buf.put_padding(64, kFrame, kSeq, true);  // epoch 0
  const ClaimedFrame sut = claimed(buf, kAt);

  EXPECT_EQ(err(commit(sut)), kSuccess);
}

// The stale commit: an unblocker voided our claim while we stalled. Its pair stays.
TEST(Commit, AfterAnUnblockerVoidedTheClaimIsAbandoned) {
  LogBuffer buf(kLap);
  buf.put_padding(64, kFrame, kSeq, true);
  const ClaimPair voided = buf.pair_at(64);
  const ClaimedFrame sut = claimed(buf, 64);

  EXPECT_EQ(err(commit(sut)), Errc::kAbandoned);

  EXPECT_EQ(buf.pair_at(64), voided);
}

TEST(Commit, IntoThePoisonOfAVoidIsAbandoned) {
  LogBuffer buf(kLap);
  buf.put_pair(64, poison_pair(0));
  const ClaimedFrame sut = claimed(buf, 64);

  EXPECT_EQ(err(commit(sut)), Errc::kAbandoned);

  EXPECT_EQ(buf.pair_at(64), poison_pair(0));
}

// A void of several claims lays its own 16-byte frames: one with a neighbouring seq may land
// exactly on our frame start.
TEST(Commit, OverAVoidOfANeighbouringSeqIsAbandoned) {
  LogBuffer buf(kLap);
  buf.put_padding(64, 16, kSeq - 1, true);
  const ClaimedFrame sut = claimed(buf, 64);

  EXPECT_EQ(err(commit(sut)), Errc::kAbandoned);
}

// An unblocker that took the dead claim for a dead lap-end padding claim (k = 0) writes a
// plain padding: also a void.
TEST(Commit, OverAPlainPaddingOfThisLapIsAbandoned) {
  LogBuffer buf(kLap);
  buf.put_padding(64, kLap - 64, kSeq);
  const ClaimedFrame sut = claimed(buf, 64);

  EXPECT_EQ(err(commit(sut)), Errc::kAbandoned);
}

TEST(Commit, AfterItsOwnAbortIsAbandoned) {
  LogBuffer buf(kLap);
  const ClaimedFrame sut = claimed(buf, 64);
  abort_claim(sut);

  EXPECT_EQ(err(commit(sut)), Errc::kAbandoned);
}

// --- abort_claim() --------------------------------------------------------------------------

TEST(AbortClaim, VoidsTheFrameAndKeepsItsSeq) {
  LogBuffer buf(kLap);
  buf.fill(0, kLap, std::byte{0xab});
  const ClaimedFrame sut = claimed(buf, 64);

  abort_claim(sut);

  EXPECT_EQ(buf.pair_at(64), (ClaimPair{CommitWord{kFrame, kTypePadding, kFlagVoided, 0}, kSeq}));
}

TEST(AbortClaim, AfterAnUnblockerVoidedLeavesTheUnblockersPair) {
  LogBuffer buf(kLap);
  buf.put_padding(64, 16, kSeq, true);  // part of a void of several claims
  const ClaimPair unblockers = buf.pair_at(64);
  const ClaimedFrame sut = claimed(buf, 64);

  abort_claim(sut);

  EXPECT_EQ(buf.pair_at(64), unblockers);
}

TEST(AbortClaim, IntoThePoisonOfAVoidLeavesThePoison) {
  LogBuffer buf(kLap);
  buf.put_pair(64, poison_pair(0));
  const ClaimedFrame sut = claimed(buf, 64);

  abort_claim(sut);

  EXPECT_EQ(buf.pair_at(64), poison_pair(0));
}

// --- seq_step(), voided_by_unblocker(), lapped_since() ----------------------------------------

TEST(SeqStep, DataTakesASeq) { EXPECT_EQ(seq_step(CommitWord{kLen, kTypeData, 0, 0}), 1u); }

TEST(SeqStep, VoidedPaddingTakesASeq) {
  EXPECT_EQ(seq_step(voided_pair(kFrame, 0, kSeq, true).word), 1u);
}

TEST(SeqStep, LapEndPaddingTakesNone) { EXPECT_EQ(seq_step(voided_pair(kFrame, 0, kSeq, false).word), 0u); }

constexpr uint16_t kEpoch = 7;

TEST(VoidedByUnblocker, PoisonOfThisLap) { EXPECT_TRUE(voided_by_unblocker(poison_pair(kEpoch), kEpoch, kSeq)); }

TEST(VoidedByUnblocker, NotThePoisonOfAnotherLap) {
  EXPECT_FALSE(voided_by_unblocker(poison_pair(kEpoch - 1), kEpoch, kSeq));
}

TEST(VoidedByUnblocker, PaddingOfThisLapWithASeqWithinTwoToThe32) {
  constexpr uint64_t kNear = (1ull << 32) - 1;
  EXPECT_TRUE(voided_by_unblocker(voided_pair(16, kEpoch, kSeq + kNear, true), kEpoch, kSeq));
  EXPECT_TRUE(voided_by_unblocker(voided_pair(16, kEpoch, kSeq, true), kEpoch, kSeq + kNear));
}

// Leftovers: an old padding pair of this epoch 65,536 laps ago would carry a far older seq.
TEST(VoidedByUnblocker, NotPaddingOfThisLapWithASeqTwoToThe32Away) {
  constexpr uint64_t kFar = 1ull << 32;
  EXPECT_FALSE(voided_by_unblocker(voided_pair(16, kEpoch, kSeq + kFar, true), kEpoch, kSeq));
  EXPECT_FALSE(voided_by_unblocker(voided_pair(16, kEpoch, kSeq, true), kEpoch, kSeq + kFar));
}

TEST(VoidedByUnblocker, NotPaddingOfAnotherLap) {
  EXPECT_FALSE(voided_by_unblocker(voided_pair(16, kEpoch + 1, kSeq, true), kEpoch, kSeq));
}

TEST(VoidedByUnblocker, NotARecordOfThisLap) {
  EXPECT_FALSE(voided_by_unblocker({CommitWord{kLen, kTypeData, 0, kEpoch}, kSeq}, kEpoch, kSeq));
}

TEST(VoidedByUnblocker, NotZeroedBytes) { EXPECT_FALSE(voided_by_unblocker(ClaimPair{}, 0, 0)); }

TEST(LappedSince, TailMoreThanALapOnIsLapped) {
  LogBuffer buf(kLap);
  EXPECT_TRUE(lapped_since(64 + kLap + 16, 64, buf.log()));
}

// The tail exactly a lap on: the claim at our frame's bytes in the next lap is not made yet.
TEST(LappedSince, TailExactlyALapOnIsNot) {
  LogBuffer buf(kLap);
  EXPECT_FALSE(lapped_since(64 + kLap, 64, buf.log()));
}

TEST(LappedSince, JournalIsNeverLapped) {
  FakeSegments segments(kLap, 1);
  const LogStorage journal = LogStorage::segments(&segments, kLap, false);
  EXPECT_FALSE(lapped_since(64 + 10 * kLap, 64, journal));
}

}  // namespace
}  // namespace shmbus::log
