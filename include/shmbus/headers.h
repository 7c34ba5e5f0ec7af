// The optional key/value block of a record (message-id, correlation-id, reply-to, type, ...).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace shmbus {

// One key/value pair. The views point into caller memory (publish) or into the log (poll).
struct Header {
  std::string_view key;
  std::string_view value;
};

// Well-known keys (same spelling as AMQP properties, so they cross the bridge unchanged).
namespace header_keys {
inline constexpr std::string_view kMessageId = "message-id";
inline constexpr std::string_view kCorrelationId = "correlation-id";
inline constexpr std::string_view kReplyTo = "reply-to";
inline constexpr std::string_view kType = "type";
inline constexpr std::string_view kContentType = "content-type";
inline constexpr std::string_view kTraceparent = "traceparent";
inline constexpr std::string_view kCausationId = "causation-id";
// The rest of the service envelope (DESIGN.md section 11; shmbus/service/envelope.h writes them).
inline constexpr std::string_view kConversationId = "conversation-id";  // kept along a whole flow
inline constexpr std::string_view kKind = "kind";                      // event | command | reply
inline constexpr std::string_view kSource = "source";                  // the sending endpoint
inline constexpr std::string_view kTracestate = "tracestate";          // W3C, beside traceparent
inline constexpr std::string_view kKey = "key";              // per-key ordering and partitioning
inline constexpr std::string_view kNotBefore = "not-before";  // delayed delivery (shmbus/envelope.h: its time form)
inline constexpr std::string_view kExpiresAt = "expires-at";  // TTL (the same form)
inline constexpr std::string_view kSentTime = "sent-time";
inline constexpr std::string_view kDeliveryCount = "x-delivery-count";
// On a dead letter (<queue>.dlq): why (rejected, delivery_limit, expired, ...) and the
// consumer's error text (Consumer::reject / nack).
inline constexpr std::string_view kDeathReason = "x-death-reason";
inline constexpr std::string_view kDeathError = "x-death-error";
// Set on a dead letter put back on its queue: the queue's dedup window lets it through (a replay
// is not a new publication).
inline constexpr std::string_view kReplayed = "x-replayed";
// On a replayed dead letter: the queue it is for. Other queues bound to its topic pass it over.
inline constexpr std::string_view kReplayQueue = "x-replay-queue";
}  // namespace header_keys

// Read-only view of an encoded headers block. Encoding (little-endian), repeated:
//   u16 key_len | u16 value_len | key bytes | value bytes
// A view over malformed bytes is !valid() and iterates as empty: it never reads out of bounds.
class HeadersView {
 public:
  HeadersView() = default;
  explicit HeadersView(std::span<const std::byte> block) noexcept;

  bool valid() const noexcept { return valid_; }
  bool empty() const noexcept { return block_.empty() || !valid_; }
  std::span<const std::byte> bytes() const noexcept { return block_; }
  std::optional<std::string_view> find(std::string_view key) const noexcept;
  // find() for several keys in one pass over the block: values[i] = what find(keys[i]) gives.
  // REQUIRES: values.size() >= keys.size().
  void find_each(std::span<const std::string_view> keys, std::span<std::optional<std::string_view>> values) const noexcept;
  size_t size() const noexcept;

  class Iterator {
   public:
    using value_type = Header;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    Iterator(std::span<const std::byte> block, size_t offset) noexcept : block_(block), offset_(offset) {}
    Header operator*() const noexcept;
    Iterator& operator++() noexcept;
    Iterator operator++(int) noexcept { Iterator old = *this; ++*this; return old; }
    bool operator==(const Iterator& other) const noexcept { return offset_ == other.offset_; }

   private:
    std::span<const std::byte> block_;
    size_t offset_ = 0;
  };
  Iterator begin() const noexcept { return Iterator(block_, valid_ ? 0 : block_.size()); }
  Iterator end() const noexcept { return Iterator(block_, block_.size()); }

 private:
  std::span<const std::byte> block_;
  bool valid_ = true;
};

// Bytes that `headers` take once encoded; 0 for none. Returns SIZE_MAX if a key or value is
// longer than 65535 bytes (such headers cannot be encoded).
size_t encoded_headers_size(std::span<const Header> headers) noexcept;

// Encodes `headers` into `out` (exactly encoded_headers_size() bytes). REQUIRES: out is that big.
void encode_headers(std::span<const Header> headers, std::span<std::byte> out) noexcept;

}  // namespace shmbus
