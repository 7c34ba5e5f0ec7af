// UUIDv7 message ids (RFC 9562, method 1: a 12-bit counter after the millisecond).
#include "shmbus/service/message_id.h"


#include <atomic>
#include <algorithm>
#include <cstdint>

#include "random_bits.h"

namespace shmbus::service {
namespace {

// (ms << 12) | counter of the last id made in this process. Ids of one process are strictly
// increasing: each takes max(now, last + 1), so a counter that runs out in one millisecond
// borrows the next one (RFC 9562 allows it), and a clock stepped back does not reorder them.
std::atomic<uint64_t> last_stamp{0};

uint64_t next_stamp() noexcept {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
  // relaxed: the value itself is all that is shared; no other memory is published with it.
  uint64_t old = last_stamp.load(std::memory_order_relaxed);
  uint64_t next = 0;
  do {
    next = std::max(ms << 12, old + 1);
  } while (!last_stamp.compare_exchange_weak(old, next, std::memory_order_relaxed, std::memory_order_relaxed));
  return next;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string new_message_id() {
  std::string out;
  new_message_id(out);
  return out;
}

void new_message_id(std::string& out) {
  const uint64_t stamp = next_stamp();
  const uint64_t ms = stamp >> 12;
  const uint64_t counter = stamp & 0xfff;
  const uint64_t random = detail::random_u64();
  uint8_t b[16];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  b[6] = static_cast<uint8_t>(0x70 | (counter >> 8));
  b[7] = static_cast<uint8_t>(counter);
  b[8] = static_cast<uint8_t>(0x80 | ((random >> 56) & 0x3f));
  for (int i = 9; i < 16; ++i) b[i] = static_cast<uint8_t>(random >> (8 * (15 - i)));
  static constexpr char kHex[] = "0123456789abcdef";
  char text[36];
  char* at = text;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *at++ = '-';
    *at++ = kHex[b[i] >> 4];
    *at++ = kHex[b[i] & 15];
  }
  out.assign(text, sizeof text);
}

std::optional<std::chrono::system_clock::time_point> message_id_time(std::string_view id) noexcept {
  if (id.size() != 36 || id[8] != '-' || id[13] != '-' || id[14] != '7') return std::nullopt;
  uint64_t ms = 0;
  for (size_t i = 0; i < 13; ++i) {
    if (i == 8) continue;
    const int v = hex_value(id[i]);
    if (v < 0) return std::nullopt;
    ms = ms << 4 | static_cast<uint64_t>(v);
  }
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

}  // namespace shmbus::service
