#include "routing/pattern_subscriber_impl.h"
#include "bus/registry.h"
#include "topic/receive_loop.h"
#include "topic/wait_loop.h"
#include "shmbus/error.h"
#include "base/process_identity.h"
#include "base/futex.h"

namespace shmbus::detail {
namespace {
// Never an entry word we have seen: the entry is looked at again on the next change.
constexpr uint64_t kLookAgain = ~0ull;
constexpr int64_t kRetrySkippedNs = 1'000'000'000;
}  // namespace

PatternSubscriberImpl::PatternSubscriberImpl(std::shared_ptr<bus::BusState> bus, std::string pattern,
                                             const SubscribeOptions& options)
    : bus_(std::move(bus)), pattern_(std::move(pattern)), options_(options) {
  follow_registry(options_.start);
}

bool PatternSubscriberImpl::registry_changed() const noexcept {
  // SYNC: registry generation (read) — bus/registry_entry.cc:load_generation(), seq_cst for the
  // doorbell's Dekker pair; pairs with bump_generation().
  return bus::load_generation(bus_->registry()) != seen_generation_;
}

// Topics that exist when we subscribe start where the caller asked; topics created later start
// at their first record, so nothing published after their creation is missed. Allocates (a
// topic being attached): it runs only when the registry changed, a set-up event.
void PatternSubscriberImpl::follow_registry(const StartAt& start) noexcept {
  const bus::Registry& r = bus_->registry();
  // Before the scan: a change made during it bumps the generation again, and we look again.
  seen_generation_ = bus::load_generation(r);
  const uint32_t n = bus::load_high_water(r);
  try {
    if (seen_words_.size() < n) seen_words_.resize(n, bus::kEntryEmpty);
  } catch (const std::exception&) {
    seen_generation_ = ~0ull;  // out of memory: try again on the next poll
    return;
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (bus::load_entry_word(r.entries[i]) == seen_words_[i]) continue;
    try {
      look_at_entry(i, start);
    } catch (const std::exception&) {
      // A damaged topic, or one that cannot be mapped now: looked at again on the next change.
      seen_words_[i] = kLookAgain;
    }
  }
}

// Entry `index` changed since we saw it: what we attached through it has ended (the topic was
// removed, and maybe the entry reused); a Ready entry that matches is attached.
void PatternSubscriberImpl::look_at_entry(uint32_t index, const StartAt& start) {
  detach_entry(index);
  bus::EntryCopy e;
  const bool ready = bus::read_entry(bus_->registry().entries[index], e);
  // Removed, being written, or changed under the copy: the writer's next bump brings us back.
  seen_words_[index] = e.word;
  if (!ready || !pattern_matches(pattern_, e.name())) return;
  std::shared_ptr<topic::TopicHandle> handle;
  try {
    handle = bus_->topic(e.name(), false, false);
  } catch (const Error& err) {
    note_skipped(std::string(e.name()), err);  // reported once; looked at again on the next change
    seen_words_[index] = kLookAgain;
    return;
  }
  forget_skipped(std::string(e.name()));
  // The directory holds a newer topic of that name than the entry: the entry is about to be (or
  // has been) tombstoned, and the newer topic's own entry brings it to us.
  if (handle->meta().config.created_ns != e.created_ns) return;
  SubscribeOptions o = options_;
  o.start = start;
  subscribers_.push_back(std::make_unique<SubscriberImpl>(std::move(handle), o, bus_, /*follows_registry=*/true));
  try {
    entries_.push_back(index);
  } catch (...) {
    subscribers_.pop_back();
    throw;
  }
}

void PatternSubscriberImpl::detach_entry(uint32_t index) noexcept {
  for (size_t k = 0; k < entries_.size(); ++k) {
    if (entries_[k] != index) continue;
    retired_received_ += subscribers_[k]->received();
    retired_lost_ += subscribers_[k]->lost();
    // Our slot in the removed topic's meta is freed; its files stay mapped until the handle goes.
    // Samples still out point at the topic subscriber: it goes once they are released.
    if (subscribers_[k]->samples_out() != 0) retired_.push_back(std::move(subscribers_[k]));
    subscribers_.erase(subscribers_.begin() + static_cast<std::ptrdiff_t>(k));
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(k));
    source_ = nullptr;
    ++detached_;
    return;
  }
}

void PatternSubscriberImpl::note_skipped(const std::string& name, const Error& e) noexcept {
  try {
    for (SkippedTopic& s : skipped_) {
      if (s.topic != name) continue;
      s.error = e.what();
      s.kind = e.kind();
      return;
    }
    skipped_.push_back({name, e.what(), e.kind()});
  } catch (const std::exception&) {
    // out of memory: the topic is skipped all the same, just not listed
  }
}

void PatternSubscriberImpl::forget_skipped(const std::string& name) noexcept {
  std::erase_if(skipped_, [&](const SkippedTopic& s) { return s.topic == name; });
}

void PatternSubscriberImpl::free_retired() noexcept {
  std::erase_if(retired_, [](const std::unique_ptr<SubscriberImpl>& s) { return s->samples_out() == 0; });
}

Result<size_t> PatternSubscriberImpl::poll(MessageHandler handler, size_t max) noexcept {
  if (!retired_.empty()) free_retired();
  // Skipped topics are opened again about once a second (they may have been repaired) as well
  // as on every registry change; the clock is read only while there are some.
  if (!skipped_.empty() && base::coarse_monotonic_ns() >= next_retry_ns_) {
    next_retry_ns_ = base::coarse_monotonic_ns() + kRetrySkippedNs;
    seen_generation_ = ~0ull;
  }
  if (registry_changed()) follow_registry(StartAt::earliest());
  size_t delivered = 0;
  Result<void> error;
  const size_t n = subscribers_.size();
  for (size_t i = 0; i < n && delivered < max && !stop_; ++i) {
    SubscriberImpl& s = *subscribers_[(next_ + i) % n];
    source_ = &s;
    Result<size_t> got = s.poll(handler, max - delivered);
    if (got) {
      delivered += *got;
    } else {
      error = got.error();
    }
  }
  if (n != 0) next_ = (next_ + 1) % n;
  stop_ = false;
  if (delivered == 0 && !error) return error.error();
  return delivered;
}

Result<Sample> PatternSubscriberImpl::try_receive() noexcept {
  if (!retired_.empty()) free_retired();
  if (registry_changed()) follow_registry(StartAt::earliest());
  const size_t n = subscribers_.size();
  Errc error = Errc::kTimeout;  // nothing anywhere
  for (size_t i = 0; i < n; ++i) {
    SubscriberImpl& s = *subscribers_[(next_ + i) % n];
    Result<Sample> got = s.try_receive();
    if (got) {
      next_ = (next_ + i + 1) % n;  // the next topic goes first next time: no topic starves
      return got;
    }
    if (got.error() != Errc::kTimeout) error = got.error();
  }
  return error;
}

bool PatternSubscriberImpl::any_ready() noexcept {
  if (registry_changed()) return true;
  for (auto& s : subscribers_) {
    if (s->ready()) return true;
  }
  return false;
}

Result<void> PatternSubscriberImpl::wait_until(int64_t deadline) noexcept {
  bool wakers_fence = true;
  for (auto& s : subscribers_) {
    s->flush_position();
    wakers_fence &= s->publishers_fence();
  }
  // One futex for many topics: publishers ring the bus doorbell while anybody sleeps on it.
  return wait_loop(
      options_.wait, bus_->meta().doorbell, wakers_fence, deadline, [this] { return any_ready(); },
      [this](int64_t now) {
        bool changed = false;
        for (auto& s : subscribers_) {
          changed |= s->check_stuck(now);
          s->heartbeat(now);
        }
        return changed;
      });
}

uint64_t PatternSubscriberImpl::received() const noexcept {
  uint64_t total = retired_received_;
  for (const auto& s : subscribers_) total += s->received();
  return total;
}

uint64_t PatternSubscriberImpl::lost() const noexcept {
  uint64_t total = retired_lost_;
  for (const auto& s : subscribers_) total += s->lost();
  return total;
}

}  // namespace shmbus::detail
