// Leases on delivered records (hold / release_hold) and the pull-style receive that hands them
// out as shmbus::Sample.
#include <cstring>

#include "topic/subscriber_impl.h"

namespace shmbus::detail {

// Leases matter only where publishers wait for readers' positions: a ring under `block` or
// `fail`. Under `overwrite` a sample holds a copy; a journal never reuses its space.
Result<void> SubscriberImpl::hold(uint64_t position) noexcept {
  if (overwrite_ || !storage_.reuses_space()) return {};
  if (held_count_ == kMaxHeld) return Errc::kHeldLimit;
  held_[(held_head_ + held_count_++) % kMaxHeld] = position;
  if (hold_ == kNoHold) hold_ = position;  // positions are taken in order: the first is the oldest
  return {};
}

void SubscriberImpl::release_hold(uint64_t position) noexcept {
  --samples_out_;  // Sample::release() calls this once per sample it took from us
  if (overwrite_ || !storage_.reuses_space()) return;
  for (size_t i = 0; i < held_count_; ++i) {  // usually the first: samples go in the order taken
    uint64_t& slot = held_[(held_head_ + i) % kMaxHeld];
    if (slot != position) continue;
    slot = kReleased;
    if (i != 0) return;  // an older lease still holds the published position
    while (held_count_ != 0 && held_[held_head_] == kReleased) {
      held_head_ = (held_head_ + 1) % kMaxHeld;
      --held_count_;
    }
    hold_ = held_count_ == 0 ? kNoHold : held_[held_head_];
    publish_position();
    return;
  }
}

Result<Sample> SubscriberImpl::try_receive() noexcept {
  Sample sample;
  Result<void> held;
  auto take = [&](const Message& m) {
    held = hold(m.position);
    if (!held) return;  // cannot happen: the limit was checked before the poll
    sample.message_ = m;
    sample.topic_ = topic_;
    sample.held_ = true;
    if (overwrite_) {
      // The bytes point into our private copy, which the next poll reuses: the sample keeps
      // its own (the one allocation of this path, on overwrite topics only).
      const auto* from = m.payload.data();
      const size_t headers = m.headers.bytes().size();
      sample.copy_.resize(headers + m.payload.size());
      if (headers != 0) std::memcpy(sample.copy_.data(), m.headers.bytes().data(), headers);
      std::memcpy(sample.copy_.data() + headers, from, m.payload.size());
      if (headers != 0) sample.message_.headers = HeadersView({sample.copy_.data(), headers});
      sample.message_.payload = {sample.copy_.data() + headers, m.payload.size()};
    } else {
      sample.owner_ = this;
      sample.mapping_ = mapping_keepalive();
      ++samples_out_;
    }
  };
  if (held_count_ == kMaxHeld) return Errc::kHeldLimit;
  Result<size_t> got = poll(take, 1);
  if (!got) return got.error();
  if (*got == 0) return Errc::kTimeout;
  return sample;
}

}  // namespace shmbus::detail

namespace shmbus {

Sample::Sample(Sample&& other) noexcept { *this = std::move(other); }

Sample& Sample::operator=(Sample&& other) noexcept {
  if (this == &other) return *this;
  release();
  message_ = other.message_;
  owner_ = other.owner_;
  mapping_ = std::move(other.mapping_);
  topic_ = std::move(other.topic_);
  copy_ = std::move(other.copy_);  // the views keep pointing at the moved buffer's bytes
  held_ = other.held_;
  other.owner_ = nullptr;
  other.held_ = false;
  other.message_ = {};
  return *this;
}

void Sample::release() noexcept {
  if (!held_) return;
  if (owner_ != nullptr) owner_->release_hold(message_.position);
  owner_ = nullptr;
  held_ = false;
  message_ = {};
  mapping_.reset();
  topic_.reset();
  copy_.clear();
}

}  // namespace shmbus
