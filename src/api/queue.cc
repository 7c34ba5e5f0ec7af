// shmbus::Queue and shmbus::Consumer: thin handles over messaging/.
#include <optional>
#include <string>

#include "messaging/consumer_impl.h"
#include "messaging/queue_impl.h"
#include "shmbus/error.h"
#include "shmbus/queue.h"

namespace shmbus {

void validate_queue_name(std::string_view name) {
  validate_topic_name(name);
  if (name.ends_with(".dlq")) {
    throw Error("queue name " + std::string(name) + " ends in .dlq, the suffix of dead-letter topics; choose another",
                ErrorKind::kInvalidName);
  }
}

Queue::Queue() = default;
Queue::Queue(std::shared_ptr<detail::QueueImpl> impl) noexcept : impl_(std::move(impl)) {}
Queue::~Queue() = default;
Queue::Queue(Queue&&) noexcept = default;
Queue& Queue::operator=(Queue&&) noexcept = default;

const std::string& Queue::name() const noexcept {
  static const std::string none;
  return impl_ ? impl_->name() : none;
}

Consumer Queue::consumer(const ConsumerOptions& options) {
  if (!impl_) throw Error("queue handle is empty (moved from?)", ErrorKind::kInvalidArgument);
  return Consumer(std::make_unique<detail::ConsumerImpl>(impl_, options));
}

QueueStats Queue::stats() {
  if (!impl_) throw Error("queue handle is empty (moved from?)", ErrorKind::kInvalidArgument);
  return impl_->stats();
}

uint64_t Queue::purge() {
  if (!impl_) throw Error("queue handle is empty (moved from?)", ErrorKind::kInvalidArgument);
  return impl_->purge();
}

uint64_t Queue::cancel(std::string_view message_id) {
  if (!impl_) throw Error("queue handle is empty (moved from?)", ErrorKind::kInvalidArgument);
  return impl_->cancel(message_id);
}

Consumer::Consumer() = default;
Consumer::Consumer(std::unique_ptr<detail::ConsumerImpl> impl) noexcept : impl_(std::move(impl)) {}
Consumer::Consumer(Consumer&&) noexcept = default;
Consumer& Consumer::operator=(Consumer&&) noexcept = default;
Consumer::~Consumer() = default;

Result<Delivery> Consumer::try_receive() noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->try_receive();
}

Result<Delivery> Consumer::receive(std::chrono::nanoseconds timeout) noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->receive(timeout);
}

Result<void> Consumer::ack(Delivery& delivery) noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->ack(delivery);
}

Result<void> Consumer::nack(Delivery& delivery, std::optional<std::chrono::nanoseconds> delay,
                           std::string_view error) noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->nack(delivery, delay, error);
}

Result<void> Consumer::reject(Delivery& delivery, std::string_view error) noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->reject(delivery, error);
}

Result<void> Consumer::extend(Delivery& delivery) noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->extend(delivery);
}

Result<size_t> Consumer::handle(FunctionRef<Outcome(const Delivery&)> handler, size_t max,
                                std::chrono::nanoseconds timeout) noexcept {
  if (!impl_) return Errc::kClosed;
  size_t handled = 0;
  std::optional<Errc> first_error;
  while (handled < max) {
    Result<Delivery> d = handled == 0 ? impl_->receive(timeout) : impl_->try_receive();
    if (!d) {
      if (handled == 0) return d.error();
      break;  // nothing more ready now (or the prefetch is full of others' deliveries)
    }
    Outcome outcome = Outcome::kRetry;
    std::string_view error;
    std::string what;  // only filled when the handler throws
    try {
      outcome = handler(*d);
    } catch (const std::exception& e) {
      try {
        what = e.what();
      } catch (...) {
      }
      error = what;
    } catch (...) {
      error = "the handler threw a non-standard exception";
    }
    Result<void> settled = outcome == Outcome::kAck      ? impl_->ack(*d)
                           : outcome == Outcome::kReject ? impl_->reject(*d, error.empty() ? "rejected by the handler" : error)
                                                         : impl_->nack(*d, std::nullopt, error);
    if (!settled && !first_error) first_error = settled.error();
    ++handled;
  }
  if (first_error) return {*first_error, handled};
  return handled;
}

Result<void> Consumer::sync() noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->sync();
}

Result<void> Consumer::release(Delivery& delivery) noexcept {
  if (!impl_) return Errc::kClosed;
  return impl_->release(delivery);
}

uint32_t Consumer::held() const noexcept { return impl_ ? impl_->held() : 0; }

}  // namespace shmbus
