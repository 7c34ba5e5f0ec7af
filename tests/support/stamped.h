// Payloads that carry who sent them, their sequence number and a checksum, so multi-process
// tests check order, duplicates and integrity, not only counts.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

#include "support/test_bus.h"

namespace shmbus::test {

enum class StampKind : uint32_t { kData = 0, kDone = 1, kProbe = 2 };

struct Stamp {
  uint32_t publisher;
  StampKind kind;
  uint64_t seq;
  uint64_t check;  // fnv1a of the fields above and the filler
  uint64_t filler[5];
};
static_assert(sizeof(Stamp) == 64);

inline uint64_t stamp_check(const Stamp& s) {
  return fnv1a(&s, offsetof(Stamp, check), fnv1a(s.filler, sizeof s.filler));
}

inline Stamp make_stamp(uint32_t publisher, uint64_t seq, StampKind kind = StampKind::kData) {
  Stamp s{};
  s.publisher = publisher;
  s.kind = kind;
  s.seq = seq;
  for (int i = 0; i < 5; ++i) s.filler[i] = (seq + 1) * 0x9E3779B97F4A7C15ull ^ (publisher + i);
  s.check = stamp_check(s);
  return s;
}

// Returns false if the payload is not an intact Stamp.
inline bool read_stamp(std::span<const std::byte> payload, Stamp& out) {
  if (payload.size() != sizeof(Stamp)) return false;
  std::memcpy(&out, payload.data(), sizeof out);
  return out.check == stamp_check(out);
}

inline std::span<const std::byte> bytes_of(const Stamp& s) { return std::as_bytes(std::span(&s, 1)); }

}  // namespace shmbus::test
