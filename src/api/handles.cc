// shmbus::Publisher: a thin handle over its Impl (and Message::message_id()).
#include "shmbus/publisher.h"
#include "shmbus/message.h"
#include "topic/publisher_impl.h"

namespace shmbus {

Publisher::Publisher() = default;
Publisher::Publisher(std::unique_ptr<detail::PublisherImpl> impl) noexcept : impl_(std::move(impl)) {}
Publisher::Publisher(Publisher&&) noexcept = default;
Publisher& Publisher::operator=(Publisher&&) noexcept = default;
Publisher::~Publisher() = default;

Result<uint64_t> Publisher::publish(std::span<const std::byte> payload, std::span<const Header> headers) noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->publish(payload, headers, /*may_wait=*/true);
}

Result<uint64_t> Publisher::publish_pipelined(std::span<const std::byte> payload, std::span<const Header> headers) noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->publish(payload, headers, /*may_wait=*/true, /*wait_durable=*/false);
}

uint64_t Publisher::durable_position() const noexcept { return impl_ ? impl_->durable_position() : 0; }

Result<uint64_t> Publisher::wait_durable(uint64_t position, std::chrono::nanoseconds timeout) noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->wait_durable(position, timeout);
}

Result<uint64_t> Publisher::try_publish(std::span<const std::byte> payload, std::span<const Header> headers) noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->publish(payload, headers, /*may_wait=*/false);
}

Result<Claim> Publisher::claim(size_t payload_bytes, std::span<const Header> headers) noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->claim(payload_bytes, headers, /*may_wait=*/true);
}

Result<Claim> Publisher::try_claim(size_t payload_bytes, std::span<const Header> headers) noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->claim(payload_bytes, headers, /*may_wait=*/false);
}

Result<uint64_t> Publisher::commit(Claim& claim) noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->commit(claim);
}

void Publisher::abort(Claim& claim) noexcept {
  if (impl_) impl_->abort(claim);
}

Policy Publisher::policy() const noexcept { return impl_ ? impl_->policy() : Policy::kBlock; }
std::shared_ptr<const void> Publisher::mapping() const noexcept {
  return impl_ ? impl_->mapping_keepalive() : nullptr;
}

size_t Publisher::max_payload() const noexcept { return impl_ ? impl_->max_payload() : 0; }
std::string Publisher::explain(Errc error) const {
  if (!impl_) return std::string(to_string(error)) + ": this publisher is closed or was moved from";
  return impl_->explain(error);
}
std::string_view Publisher::topic() const noexcept { return impl_ ? std::string_view(impl_->topic()) : ""; }

std::string Message::message_id() const {
  if (auto id = headers.find(header_keys::kMessageId)) return std::string(*id);
  return std::string(topic) + "@" + std::to_string(position);
}

const char* to_string(Errc e) noexcept {
  switch (e) {
    case Errc::kWouldBlock: return "would-block";
    case Errc::kLapped: return "lapped";
    case Errc::kAbandoned: return "abandoned";
    case Errc::kTooLarge: return "too-large";
    case Errc::kCorrupt: return "corrupt";
    case Errc::kTimeout: return "timeout";
    case Errc::kClosed: return "closed";
    case Errc::kInvalidArgument: return "invalid-argument";
    case Errc::kStorage: return "storage";
    case Errc::kNotDurable: return "not-durable";
    case Errc::kHeldLimit: return "held-limit";
    case Errc::kStaleLease: return "stale-lease";
  }
  return "unknown";
}

}  // namespace shmbus
