// shmbus::Publisher and shmbus::Subscriber: thin handles over their Impl.
#include "shmbus/publisher.h"
#include "shmbus/subscriber.h"
#include "topic/publisher_impl.h"
#include "topic/receive_loop.h"
#include "topic/subscriber_impl.h"

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

size_t Publisher::max_payload() const noexcept { return impl_ ? impl_->max_payload() : 0; }
std::string Publisher::explain(Errc error) const {
  if (!impl_) return std::string(to_string(error)) + ": this publisher is closed or was moved from";
  return impl_->explain(error);
}
std::string_view Publisher::topic() const noexcept { return impl_ ? std::string_view(impl_->topic()) : ""; }

Subscriber::Subscriber() = default;
Subscriber::Subscriber(std::unique_ptr<detail::SubscriberImpl> impl) noexcept : impl_(std::move(impl)) {}
Subscriber::Subscriber(Subscriber&&) noexcept = default;
Subscriber& Subscriber::operator=(Subscriber&&) noexcept = default;
Subscriber::~Subscriber() = default;

Result<size_t> Subscriber::poll(MessageHandler handler, size_t max) noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->poll(handler, max);
}

Result<void> Subscriber::wait(std::chrono::nanoseconds timeout) noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->wait(timeout);
}

Result<size_t> Subscriber::receive(MessageHandler handler, size_t max, std::chrono::nanoseconds timeout) noexcept {
  if (!impl_) return Errc::kClosed;
  return detail::receive_loop(*impl_, handler, max, timeout);
}

Result<void> Subscriber::commit() noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->commit();
}

uint64_t Subscriber::position() const noexcept { return impl_ ? impl_->position() : 0; }
uint64_t Subscriber::received() const noexcept { return impl_ ? impl_->received() : 0; }
uint64_t Subscriber::lost() const noexcept { return impl_ ? impl_->lost() : 0; }
std::string_view Subscriber::topic() const noexcept { return impl_ ? std::string_view(impl_->topic()) : ""; }

std::string Message::message_id() const {
  if (auto id = headers.find(header_keys::kMessageId)) return std::string(*id);
  return std::string(topic) + "@" + std::to_string(position);
}

const char* to_string(Errc e) noexcept {
  switch (e) {
    case Errc::kOk: return "ok";
    case Errc::kWouldBlock: return "would-block";
    case Errc::kLapped: return "lapped";
    case Errc::kAbandoned: return "abandoned";
    case Errc::kTooLarge: return "too-large";
    case Errc::kCorrupt: return "corrupt";
    case Errc::kTimeout: return "timeout";
    case Errc::kClosed: return "closed";
    case Errc::kInvalidArgument: return "invalid-argument";
    case Errc::kStorage: return "storage";
  }
  return "unknown";
}

}  // namespace shmbus
