// Encoding and bounds-checked decoding of the headers block (format in headers.h).
#include "shmbus/headers.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

namespace shmbus {
namespace {

constexpr size_t kEntryPrefix = 4;  // u16 key_len + u16 value_len

uint16_t load_u16(const std::byte* p) noexcept {
  return static_cast<uint16_t>(std::to_integer<uint16_t>(p[0]) | (std::to_integer<uint16_t>(p[1]) << 8));
}

void store_u16(std::byte* p, size_t v) noexcept {
  p[0] = static_cast<std::byte>(v & 0xFF);
  p[1] = static_cast<std::byte>((v >> 8) & 0xFF);
}

struct EntryLengths {
  size_t key = 0, value = 0;
  size_t size() const noexcept { return kEntryPrefix + key + value; }
};

// The lengths of the entry at `offset`, each read once (what is checked is what is used, should
// the bytes change meanwhile); nullopt if the entry does not fit inside `block`.
std::optional<EntryLengths> entry_at(std::span<const std::byte> block, size_t offset) noexcept {
  if (block.size() - offset < kEntryPrefix) return std::nullopt;
  const EntryLengths e{load_u16(&block[offset]), load_u16(&block[offset + 2])};
  if (e.size() > block.size() - offset) return std::nullopt;
  return e;
}

// Size of the entry at `offset`, or 0 if it does not fit inside `block`.
size_t entry_size(std::span<const std::byte> block, size_t offset) noexcept {
  const std::optional<EntryLengths> e = entry_at(block, offset);
  return e ? e->size() : 0;
}

std::string_view view_of(const std::byte* p, size_t n) noexcept {
  return {reinterpret_cast<const char*>(p), n};
}

}  // namespace

HeadersView::HeadersView(std::span<const std::byte> block) noexcept : block_(block) {
  for (size_t offset = 0; offset < block_.size();) {
    size_t size = entry_size(block_, offset);
    if (size == 0) {
      valid_ = false;
      return;
    }
    offset += size;
  }
}

std::optional<std::string_view> HeadersView::find(std::string_view key) const noexcept {
  for (Header h : *this) {
    if (h.key == key) return h.value;
  }
  return std::nullopt;
}

void HeadersView::find_each(std::span<const std::string_view> keys,
                            std::span<std::optional<std::string_view>> values) const noexcept {
  // The lengths asked for, as bits (a key of 64 bytes or more sets the last): most headers are
  // passed over on their length alone.
  uint64_t lengths = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    values[i].reset();
    lengths |= uint64_t{1} << std::min<size_t>(keys[i].size(), 63);
  }
  size_t left = keys.size();
  for (Header h : *this) {
    if ((lengths >> std::min<size_t>(h.key.size(), 63) & 1) == 0) continue;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (values[i] || h.key != keys[i]) continue;
      values[i] = h.value;  // the first of its key, as find() gives
      if (--left == 0) return;
    }
  }
}

size_t HeadersView::size() const noexcept {
  size_t n = 0;
  for (auto it = begin(); it != end(); ++it) ++n;
  return n;
}

// The view was validated when made, but a block in shared memory can change under it (a hostile
// or broken writer): each step checks its entry again, and one that no longer fits ends the
// iteration instead of reading past the block or standing still.
Header HeadersView::Iterator::operator*() const noexcept {
  const std::optional<EntryLengths> e = entry_at(block_, offset_);
  if (!e) return {};
  const std::byte* p = &block_[offset_] + kEntryPrefix;
  return {view_of(p, e->key), view_of(p + e->key, e->value)};
}

HeadersView::Iterator& HeadersView::Iterator::operator++() noexcept {
  const size_t size = entry_size(block_, offset_);
  offset_ = size == 0 ? block_.size() : offset_ + size;
  return *this;
}

size_t encoded_headers_size(std::span<const Header> headers) noexcept {
  constexpr size_t kMaxField = std::numeric_limits<uint16_t>::max();
  size_t total = 0;
  for (const Header& h : headers) {
    if (h.key.size() > kMaxField || h.value.size() > kMaxField) return SIZE_MAX;
    total += kEntryPrefix + h.key.size() + h.value.size();
  }
  return total;
}

void encode_headers(std::span<const Header> headers, std::span<std::byte> out) noexcept {
  std::byte* p = out.data();
  for (const Header& h : headers) {
    store_u16(p, h.key.size());
    store_u16(p + 2, h.value.size());
    std::memcpy(p + kEntryPrefix, h.key.data(), h.key.size());
    std::memcpy(p + kEntryPrefix + h.key.size(), h.value.data(), h.value.size());
    p += kEntryPrefix + h.key.size() + h.value.size();
  }
}

}  // namespace shmbus
