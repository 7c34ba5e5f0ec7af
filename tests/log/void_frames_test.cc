// Voiding dead claims: the pairs a void is made of (log/void_frames.h) and void_span()
// (log/abandoned_claim.h), one test per VoidResult and per way a void meets other writers: a
// commit that got in first, a stalled claimer that commits after, another unblocker.
#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "log/abandoned_claim.h"
#include "log/claim.h"
#include "log/log_buffer.h"
#include "log/read.h"
#include "log/record_format.h"
#include "log/void_frames.h"

namespace shmbus::log {
namespace {

using test::LogBuffer;
using Kind = AbandonedSpan::Kind;

constexpr uint64_t kLap = 256;
constexpr uint64_t kSeq = 10;  // the first dead claim's seq
constexpr int32_t kLen = 40;   // a 48-byte frame
constexpr uint64_t kFrame = align_frame(kLen);
constexpr uint16_t kEpoch = 3;

// --- voided_pair(), poison_pair() -----------------------------------------------------------

TEST(VoidedPair, TakesTheClaimsSeqWhenVoided) {
  constexpr ClaimPair kExpected{CommitWord{48, kTypePadding, kFlagVoided, kEpoch}, kSeq};
  EXPECT_EQ(voided_pair(48, kEpoch, kSeq, true), kExpected);
}

TEST(VoidedPair, IsPlainPaddingWhenNoSeqIsTaken) {
  constexpr ClaimPair kExpected{CommitWord{48, kTypePadding, 0, kEpoch}, kSeq};
  EXPECT_EQ(voided_pair(48, kEpoch, kSeq, false), kExpected);
}

// Length 0: no claim writes it and no reader takes it for a record.
TEST(PoisonPair, HasNoLengthAndCarriesTheLapsEpoch) {
  const ClaimPair sut = poison_pair(kEpoch);

  EXPECT_EQ(sut.word.len, 0);
  EXPECT_EQ(sut.word.epoch, kEpoch);
  EXPECT_FALSE(sut.word.claimed_in(kEpoch));
  EXPECT_NE(sut, poison_pair(kEpoch + 1));
}

// --- plausible_frame(), claims_fit() --------------------------------------------------------

TEST(PlausibleFrame, CommittedDataOfThisLap) {
  EXPECT_TRUE(plausible_frame({CommitWord{kLen, kTypeData, 0, kEpoch}, kSeq}, kEpoch, kFrame));
}

TEST(PlausibleFrame, PaddingOfThisLap) { EXPECT_TRUE(plausible_frame(voided_pair(16, kEpoch, kSeq, false), kEpoch, 16)); }

TEST(PlausibleFrame, NotAFrameOfAnotherLap) {
  EXPECT_FALSE(plausible_frame({CommitWord{kLen, kTypeData, 0, kEpoch - 1}, kSeq}, kEpoch, kLap));
}

TEST(PlausibleFrame, NotZeroOrNegativeLength) {
  EXPECT_FALSE(plausible_frame(poison_pair(kEpoch), kEpoch, kLap));
  EXPECT_FALSE(plausible_frame({CommitWord{-kLen, kTypeData, 0, kEpoch}, kSeq}, kEpoch, kLap));
}

TEST(PlausibleFrame, NotAnUnknownType) {
  EXPECT_FALSE(plausible_frame({CommitWord{kLen, 3, 0, kEpoch}, kSeq}, kEpoch, kLap));
}

TEST(PlausibleFrame, NotLongerThanTheRoom) {
  EXPECT_FALSE(plausible_frame({CommitWord{kLen, kTypeData, 0, kEpoch}, kSeq}, kEpoch, kFrame - 16));
}

TEST(PlausibleFrame, NotDataShorterThanAHeader) {
  EXPECT_FALSE(plausible_frame({CommitWord{16, kTypeData, 0, kEpoch}, kSeq}, kEpoch, kLap));
}

TEST(ClaimsFit, OneClaimPerThirtyTwoBytes) {
  static_assert(claims_fit(0, 0));
  static_assert(claims_fit(2, 64));
  static_assert(!claims_fit(3, 64));
  static_assert(!claims_fit(1, 16));
  EXPECT_TRUE(claims_fit(1, 32));
}

// --- for_each_void_frame() ------------------------------------------------------------------

using Writes = std::vector<std::pair<uint64_t, ClaimPair>>;

Writes void_frames(uint64_t bytes, uint64_t seqs, size_t stop_after = ~size_t{0}) {
  Writes out;
  for_each_void_frame(bytes, kSeq, seqs, kEpoch, [&](uint64_t off, ClaimPair pair) {
    out.emplace_back(off, pair);
    return out.size() < stop_after;
  });
  return out;
}

TEST(ForEachVoidFrame, NoSeqIsOnePlainPaddingOverAllBytes) {
  const Writes sut = void_frames(96, 0);

  const Writes expected{{0, voided_pair(96, kEpoch, kSeq, false)}};
  EXPECT_EQ(sut, expected);
}

TEST(ForEachVoidFrame, OneSeqIsOneVoidedPaddingOverAllBytes) {
  const Writes sut = void_frames(96, 1);

  const Writes expected{{0, voided_pair(96, kEpoch, kSeq, true)}};
  EXPECT_EQ(sut, expected);
}

TEST(ForEachVoidFrame, SeveralSeqsAreSixteenByteVoidsAndOneForTheRestLastFirst) {
  const Writes sut = void_frames(144, 3);

  const Writes expected{{32, voided_pair(112, kEpoch, kSeq + 2, true)},
                        {16, voided_pair(16, kEpoch, kSeq + 1, true)},
                        {0, voided_pair(16, kEpoch, kSeq, true)}};
  EXPECT_EQ(sut, expected);
}

TEST(ForEachVoidFrame, WriteReturningFalseStopsIt) {
  bool finished = true;
  size_t writes = 0;

  finished = for_each_void_frame(144, kSeq, 3, kEpoch, [&](uint64_t, ClaimPair) { return ++writes < 1; });

  EXPECT_FALSE(finished);
  EXPECT_EQ(writes, 1u);
}

// --- void_span() ----------------------------------------------------------------------------

// What topic/void_claims.cc asks before each CAS: has a newer lap claimed `position`?
auto lapped_by_tail(LogBuffer& buf) {
  return [&buf](uint64_t position) { return buf.log().newer_lap_claimed(position, buf.tail().position.load()); };
}

// Finds the span at `position` (which must be kFound) and voids it through `buf`'s bytes.
VoidResult find_and_void(LogBuffer& buf, uint64_t position, uint64_t seq = kSeq) {
  const AbandonedSpan span = find_abandoned_span(buf.log(), buf.tail(), position, seq);
  EXPECT_EQ(span.kind, Kind::kFound);
  std::byte* bytes[2] = {};
  uint16_t epochs[2] = {};
  for (uint32_t i = 0; i < span.part_count(); ++i) {
    bytes[i] = buf.at(span.part(i).position);
    epochs[i] = buf.epoch(span.part(i).position);
  }
  return void_span(span, bytes, epochs, lapped_by_tail(buf));
}

VoidResult void_found(LogBuffer& buf, const AbandonedSpan& span) {
  std::byte* bytes[1] = {buf.at(span.position)};
  uint16_t epochs[1] = {buf.epoch(span.position)};
  return void_span(span, bytes, epochs, lapped_by_tail(buf));
}

// One dead claim at 64 (seq 10), committed record at 112 (seq 11).
struct OneDeadClaim : LogBuffer {
  OneDeadClaim() : LogBuffer(kLap) {
    put_record(64 + kFrame, kLen, kSeq + 1);
    set_tail(64 + 2 * kFrame, kSeq + 2);
  }
};

// Three dead 48-byte claims at 0, 48, 96 (seqs 10..12), a committed record at 144 (seq 13).
constexpr uint64_t kDead = 3;
constexpr uint64_t kAfter = kDead * kFrame;
struct ThreeDeadClaims : LogBuffer {
  ThreeDeadClaims() : LogBuffer(kLap) {
    put_record(kAfter, kLen, kSeq + kDead);
    set_tail(kAfter + kFrame, kSeq + kDead + 1);
  }
};

ClaimedFrame stalled_claim(LogBuffer& buf, uint64_t position, uint64_t seq) {
  return {position, seq, buf.at(position), CommitWord{kLen, kTypeData, 0, buf.epoch(position)}.encode()};
}

TEST(VoidSpan, OneDeadClaimBecomesOneVoidedPadding) {
  OneDeadClaim buf;

  const VoidResult sut = find_and_void(buf, 64);

  EXPECT_EQ(sut, VoidResult::kVoided);
  EXPECT_EQ(buf.pair_at(64), voided_pair(kFrame, 0, kSeq, true));
  EXPECT_EQ(buf.pair_at(80), ClaimPair{});  // one CAS, no poison
  EXPECT_EQ(buf.pair_at(64 + kFrame), (ClaimPair{CommitWord{kLen, kTypeData, 0, 0}, kSeq + 1}));
}

TEST(VoidSpan, StalledClaimerOfAVoidedClaimCannotCommit) {
  OneDeadClaim buf;
  ASSERT_EQ(find_and_void(buf, 64), VoidResult::kVoided);

  EXPECT_EQ(err(commit(stalled_claim(buf, 64, kSeq))), Errc::kAbandoned);
  EXPECT_EQ(buf.pair_at(64), voided_pair(kFrame, 0, kSeq, true));
}

TEST(VoidSpan, DeadPaddingClaimBecomesPlainPadding) {
  constexpr uint64_t kAt = kLap - 32;
  LogBuffer buf(kLap);
  buf.put_record(kLap, kLen, kSeq);
  buf.set_tail(kLap + kFrame, kSeq + 1);

  const VoidResult sut = find_and_void(buf, kAt);

  EXPECT_EQ(sut, VoidResult::kVoided);
  EXPECT_EQ(buf.pair_at(kAt), voided_pair(32, 0, kSeq, false));
}

TEST(VoidSpan, SeveralDeadClaimsArePoisonedThenVoided) {
  ThreeDeadClaims buf;

  const VoidResult sut = find_and_void(buf, 0);

  EXPECT_EQ(sut, VoidResult::kVoided);
  EXPECT_EQ(buf.pair_at(0), voided_pair(16, 0, kSeq, true));
  EXPECT_EQ(buf.pair_at(16), voided_pair(16, 0, kSeq + 1, true));
  EXPECT_EQ(buf.pair_at(32), voided_pair(kAfter - 32, 0, kSeq + 2, true));
  for (uint64_t at = 48; at < kAfter; at += kRecordAlign) EXPECT_EQ(buf.pair_at(at), poison_pair(0)) << at;
  EXPECT_EQ(buf.pair_at(kAfter).seq, kSeq + kDead);
}

TEST(VoidSpan, ReadersWalkTheVoidSeqBySeq) {
  ThreeDeadClaims buf;
  ASSERT_EQ(find_and_void(buf, 0), VoidResult::kVoided);
  uint64_t position = 0;
  uint64_t seq = kSeq;

  for (uint64_t i = 0; i < kDead; ++i) {
    const FrameView v = read_frame(buf.log(), buf.tail(), position, seq);
    ASSERT_EQ(v.state, FrameState::kPadding) << position;
    ASSERT_EQ(v.word.flags, kFlagVoided);
    position += v.frame_bytes;
    seq += seq_step(v.word);
  }

  EXPECT_EQ(position, kAfter);
  EXPECT_EQ(seq, kSeq + kDead);
  EXPECT_EQ(read_frame(buf.log(), buf.tail(), position, seq).state, FrameState::kData);
}

// Each stalled claimer finds either a void or the poison where its pair goes.
TEST(VoidSpan, StalledClaimersInsideTheVoidCannotCommit) {
  ThreeDeadClaims buf;
  ASSERT_EQ(find_and_void(buf, 0), VoidResult::kVoided);

  for (uint64_t i = 0; i < kDead; ++i) {
    EXPECT_EQ(err(commit(stalled_claim(buf, i * kFrame, kSeq + i))), Errc::kAbandoned) << i;
  }
}

TEST(VoidSpan, SecondUnblockerOfOneClaimIsVoidedByOther) {
  OneDeadClaim buf;
  ASSERT_EQ(find_and_void(buf, 64), VoidResult::kVoided);

  const VoidResult sut = find_and_void(buf, 64);

  EXPECT_EQ(sut, VoidResult::kVoidedByOther);
}

// A second unblocker that found the same span before the first one voided it: p's void (written
// last) tells it the whole span is done, before its poison pass would stop at that void.
TEST(VoidSpan, SecondUnblockerOfSeveralClaimsIsVoidedByOther) {
  ThreeDeadClaims buf;
  const AbandonedSpan span = find_abandoned_span(buf.log(), buf.tail(), 0, kSeq);
  ASSERT_EQ(span.kind, Kind::kFound);
  ASSERT_EQ(void_found(buf, span), VoidResult::kVoided);

  const VoidResult sut = void_found(buf, span);  // the same span, found before the first void

  EXPECT_EQ(sut, VoidResult::kVoidedByOther);
}

// Another unblocker's poison pass got there first: the same poison, and ours is the CAS at p.
TEST(VoidSpan, AnotherUnblockersPoisonDoesNotStopTheVoid) {
  ThreeDeadClaims buf;
  for (uint64_t at = 0; at < kAfter; at += kRecordAlign) buf.put_pair(at, poison_pair(0));
  const AbandonedSpan span{Kind::kFound, 0, kAfter, kSeq, kDead, kSeq + kDead, kLap};

  const VoidResult sut = void_found(buf, span);

  EXPECT_EQ(sut, VoidResult::kVoided);
  EXPECT_EQ(buf.pair_at(0), voided_pair(16, 0, kSeq, true));
}

// A lookalike with a seq before ours cannot be a claim of the span: it is poisoned over.
TEST(VoidSpan, OlderSeqLookalikeInsideTheSpanIsPoisoned) {
  ThreeDeadClaims buf;
  buf.put_record(64, kLen, kSeq - 5);

  const VoidResult sut = find_and_void(buf, 0);

  EXPECT_EQ(sut, VoidResult::kVoided);
  EXPECT_EQ(buf.pair_at(64), poison_pair(0));
}

// The claimer was alive after all and committed between the bound and the void.
TEST(VoidSpan, RecordCommittedAtThePositionMeanwhileIsNotVoided) {
  OneDeadClaim buf;
  const AbandonedSpan span = find_abandoned_span(buf.log(), buf.tail(), 64, kSeq);
  ASSERT_EQ(span.kind, Kind::kFound);
  buf.put_record(64, kLen, kSeq);

  const VoidResult sut = void_found(buf, span);

  EXPECT_EQ(sut, VoidResult::kNotVoided);
  EXPECT_EQ(buf.pair_at(64), (ClaimPair{CommitWord{kLen, kTypeData, 0, 0}, kSeq}));
}

// The unblocker stalled between its bound and its void while the claimer committed and the
// ring went round: the bytes at the position hold the next lap's record, which stays.
TEST(VoidSpan, NewerLapsRecordAtThePositionIsNotOverwritten) {
  OneDeadClaim buf;
  const AbandonedSpan span = find_abandoned_span(buf.log(), buf.tail(), 64, kSeq);
  ASSERT_EQ(span.kind, Kind::kFound);
  buf.put_record(64 + kLap, kLen, kSeq + 7);
  buf.set_tail(64 + kLap + kFrame, kSeq + 8);

  const VoidResult sut = void_found(buf, span);

  EXPECT_EQ(sut, VoidResult::kNotVoided);
  EXPECT_EQ(buf.pair_at(64), (ClaimPair{CommitWord{kLen, kTypeData, 0, 1}, kSeq + 7}));
}

// The same for a span of several claims: its poison pass stops before the newer lap's record.
TEST(VoidSpan, NewerLapsRecordInsideSeveralClaimsIsNotPoisoned) {
  ThreeDeadClaims buf;
  const AbandonedSpan span = find_abandoned_span(buf.log(), buf.tail(), 0, kSeq);
  ASSERT_EQ(span.kind, Kind::kFound);
  buf.put_record(kLap, kLen, kSeq + 9);
  buf.set_tail(kLap + kFrame, kSeq + 10);

  const VoidResult sut = void_found(buf, span);

  EXPECT_EQ(sut, VoidResult::kNotVoided);
  EXPECT_EQ(buf.pair_at(0), (ClaimPair{CommitWord{kLen, kTypeData, 0, 1}, kSeq + 9}));
}

// A full block-policy ring: the tail exactly a lap past the dead claim, which the next claim
// waits for. Nothing of a newer lap is there: the claim is voided, or the topic stays blocked.
TEST(VoidSpan, DeadClaimOfAFullRingIsVoided) {
  OneDeadClaim buf;
  buf.set_tail(64 + kLap, kSeq + 2);

  const VoidResult sut = find_and_void(buf, 64);

  EXPECT_EQ(sut, VoidResult::kVoided);
  EXPECT_EQ(buf.pair_at(64), voided_pair(kFrame, 0, kSeq, true));
}

// Leftovers that only look like a newer lap's pair (payload bytes of an earlier lap can look like
// anything) do not stop the void while the tail says no newer lap has come.
TEST(VoidSpan, LeftoversThatLookNewerAreVoidedOver) {
  OneDeadClaim buf;
  buf.put_pair(64, CommitWord{kLen, kTypeData, 0, 9}, 0x5eed);

  const VoidResult sut = find_and_void(buf, 64);

  EXPECT_EQ(sut, VoidResult::kVoided);
  EXPECT_EQ(buf.pair_at(64), voided_pair(kFrame, 0, kSeq, true));
}

TEST(VoidSpan, RecordCommittedAtThePositionOfSeveralClaimsIsNotVoided) {
  ThreeDeadClaims buf;
  const AbandonedSpan span = find_abandoned_span(buf.log(), buf.tail(), 0, kSeq);
  ASSERT_EQ(span.kind, Kind::kFound);
  buf.put_record(0, kLen, kSeq);

  const VoidResult sut = void_found(buf, span);

  EXPECT_EQ(sut, VoidResult::kNotVoided);
  EXPECT_EQ(buf.pair_at(0), (ClaimPair{CommitWord{kLen, kTypeData, 0, 0}, kSeq}));
  EXPECT_EQ(buf.pair_at(16), ClaimPair{});  // stopped before anything else was written
}

// The second claim committed meanwhile: the poison pass stops at it and leaves the record.
TEST(VoidSpan, RecordCommittedInsideSeveralClaimsStopsThePoison) {
  ThreeDeadClaims buf;
  const AbandonedSpan span = find_abandoned_span(buf.log(), buf.tail(), 0, kSeq);
  ASSERT_EQ(span.kind, Kind::kFound);
  buf.put_record(kFrame, kLen, kSeq + 1);

  const VoidResult sut = void_found(buf, span);

  EXPECT_EQ(sut, VoidResult::kNotVoided);
  EXPECT_EQ(buf.pair_at(kFrame), (ClaimPair{CommitWord{kLen, kTypeData, 0, 0}, kSeq + 1}));
  EXPECT_EQ(buf.pair_at(0), poison_pair(0));  // p's claimer can no longer commit
}

// After a stopped void the reader sees poison at p (nothing yet), bounds again, and the next
// void replaces the poison.
TEST(VoidSpan, PoisonOfAStoppedVoidIsReplacedByTheNextVoid) {
  ThreeDeadClaims buf;
  const AbandonedSpan span = find_abandoned_span(buf.log(), buf.tail(), 0, kSeq);
  ASSERT_EQ(span.kind, Kind::kFound);
  buf.put_record(kFrame, kLen, kSeq + 1);
  ASSERT_EQ(void_found(buf, span), VoidResult::kNotVoided);
  ASSERT_EQ(read_frame(buf.log(), buf.tail(), 0, kSeq).state, FrameState::kEmpty);

  const VoidResult sut = find_and_void(buf, 0);

  EXPECT_EQ(sut, VoidResult::kVoided);
  EXPECT_EQ(buf.pair_at(0), voided_pair(kFrame, 0, kSeq, true));
  EXPECT_EQ(read_frame(buf.log(), buf.tail(), kFrame, kSeq + 1).state, FrameState::kData);
}

// Another unblocker bounded the claim differently and voided it first.
TEST(VoidSpan, VoidOfOtherBoundsAtThePositionIsNotVoided) {
  OneDeadClaim buf;
  const AbandonedSpan span = find_abandoned_span(buf.log(), buf.tail(), 64, kSeq);
  ASSERT_EQ(span.kind, Kind::kFound);
  buf.put_padding(64, 32, kSeq, true);

  const VoidResult sut = void_found(buf, span);

  EXPECT_EQ(sut, VoidResult::kNotVoided);
  EXPECT_EQ(buf.pair_at(64), voided_pair(32, 0, kSeq, true));
}

// The lap-end padding claim and the next lap's first claim both died: one part per lap.
TEST(VoidSpan, CrossingSpanIsVoidedInBothLaps) {
  constexpr uint64_t kAt = kLap - 32;
  constexpr uint64_t kNext = kLap + kFrame;
  LogBuffer buf(kLap);
  buf.put_record(kNext, kLen, kSeq + 1);
  buf.set_tail(kNext + kFrame, kSeq + 2);

  const VoidResult sut = find_and_void(buf, kAt);

  EXPECT_EQ(sut, VoidResult::kVoided);
  EXPECT_EQ(buf.pair_at(kAt), voided_pair(32, 0, kSeq, false));
  EXPECT_EQ(buf.pair_at(kAt + 16), poison_pair(0));
  EXPECT_EQ(buf.pair_at(kLap), voided_pair(kFrame, 1, kSeq, true));
  EXPECT_EQ(buf.pair_at(kLap + 16), poison_pair(1));
  EXPECT_EQ(buf.pair_at(kLap + 32), poison_pair(1));
}

TEST(VoidSpan, ReadersWalkACrossingVoidIntoTheNextLap) {
  constexpr uint64_t kAt = kLap - 32;
  constexpr uint64_t kNext = kLap + kFrame;
  LogBuffer buf(kLap);
  buf.put_record(kNext, kLen, kSeq + 1);
  buf.set_tail(kNext + kFrame, kSeq + 2);
  ASSERT_EQ(find_and_void(buf, kAt), VoidResult::kVoided);

  const FrameView end_of_lap = read_frame(buf.log(), buf.tail(), kAt, kSeq);
  const FrameView first_of_next = read_frame(buf.log(), buf.tail(), kLap, kSeq);
  const FrameView record = read_frame(buf.log(), buf.tail(), kNext, kSeq + 1);

  ASSERT_EQ(end_of_lap.state, FrameState::kPadding);
  EXPECT_EQ(seq_step(end_of_lap.word), 0u);
  ASSERT_EQ(first_of_next.state, FrameState::kPadding);
  EXPECT_EQ(first_of_next.frame_bytes, kFrame);
  EXPECT_EQ(seq_step(first_of_next.word), 1u);
  EXPECT_EQ(record.state, FrameState::kData);
}

}  // namespace
}  // namespace shmbus::log
