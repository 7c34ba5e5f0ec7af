// The tail (log/tail.h): one 16-byte CAS moves position and seq together; the two reads see a
// consistent pair.
#include <gtest/gtest.h>

#include <cstdint>

#include "log/log_buffer.h"
#include "log/tail.h"

namespace shmbus::log {
namespace {

constexpr TailValue kStart{4096, 77};

TEST(Tail, CasMovesPositionAndSeqTogether) {
  Tail sut{};
  sut.position = kStart.position;
  sut.seq = kStart.seq;
  TailValue expected = kStart;
  constexpr TailValue kNext{kStart.position + 48, kStart.seq + 1};

  ASSERT_TRUE(cas_tail(sut, expected, kNext));

  EXPECT_EQ(sut.position.load(), kNext.position);
  EXPECT_EQ(sut.seq.load(), kNext.seq);
}

TEST(Tail, FailedCasReportsTheTailThatWonAndChangesNothing) {
  Tail sut{};
  sut.position = kStart.position;
  sut.seq = kStart.seq;
  TailValue stale{kStart.position - 48, kStart.seq - 1};

  EXPECT_FALSE(cas_tail(sut, stale, TailValue{kStart.position, kStart.seq}));

  EXPECT_EQ(stale, kStart);
  EXPECT_EQ(read_tail_exact(sut), kStart);
}

// A seq that does not belong to the position fails the CAS too: both halves are compared.
TEST(Tail, CasWithTheRightPositionButAnotherSeqFails) {
  Tail sut{};
  sut.position = kStart.position;
  sut.seq = kStart.seq;
  TailValue wrong_seq{kStart.position, kStart.seq + 1};

  EXPECT_FALSE(cas_tail(sut, wrong_seq, TailValue{kStart.position + 48, kStart.seq + 2}));

  EXPECT_EQ(read_tail_exact(sut), kStart);
}

TEST(Tail, FastAndExactReadsAgree) {
  Tail sut{};
  sut.position = kStart.position;
  sut.seq = kStart.seq;

  EXPECT_EQ(read_tail_fast(sut), kStart);
  EXPECT_EQ(read_tail_exact(sut), kStart);
}

}  // namespace
}  // namespace shmbus::log
