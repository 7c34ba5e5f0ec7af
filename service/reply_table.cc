// The table of a bus Client's waiting requests (reply_table.h).
#include "reply_table.h"

#include <functional>

#include "futex.h"

namespace shmbus::service::detail {
namespace {

constexpr size_t kFirstSlots = 64;

size_t hash_of(std::string_view id) noexcept { return std::hash<std::string_view>{}(id); }

}  // namespace

ReplyTable::ReplyTable() {
  std::lock_guard<std::mutex> guard(mu_);
  grow();
}

// Four buckets per slot: the index is at most half full (with tombstones) before a rebuild.
void ReplyTable::grow() {
  const size_t had = slots_.size();
  const size_t want = had == 0 ? kFirstSlots : 2 * had;
  slots_.reserve(want);
  free_.reserve(want);
  scratch_.reserve(want);
  for (size_t i = had; i < want; ++i) {
    slots_.push_back(std::make_unique<ReplySlot>());
    slots_.back()->index = static_cast<uint32_t>(i);
    free_.push_back(static_cast<uint32_t>(i));
  }
  rebuild(4 * want);
}

void ReplyTable::rebuild(size_t buckets) {
  scratch_.clear();
  for (int32_t b : buckets_) {
    if (b >= 0) scratch_.push_back(static_cast<uint32_t>(b));
  }
  buckets_.assign(buckets, kEmpty);
  tombstones_ = 0;
  for (uint32_t i : scratch_) place(*slots_[i]);
}

int32_t ReplyTable::find(std::string_view id, size_t hash) const {
  const size_t mask = buckets_.size() - 1;
  for (size_t b = hash & mask;; b = (b + 1) & mask) {
    const int32_t at = buckets_[b];
    if (at == kEmpty) return -1;
    if (at >= 0 && slots_[static_cast<size_t>(at)]->hash == hash && slots_[static_cast<size_t>(at)]->id == id) {
      return static_cast<int32_t>(b);
    }
  }
}

void ReplyTable::place(ReplySlot& s) {
  const size_t mask = buckets_.size() - 1;
  size_t b = s.hash & mask;
  while (buckets_[b] >= 0) b = (b + 1) & mask;
  if (buckets_[b] == kTombstone) --tombstones_;
  buckets_[b] = static_cast<int32_t>(s.index);
  s.bucket = static_cast<int32_t>(b);
}

void ReplyTable::index(ReplySlot& s) {
  if (2 * (indexed_ + tombstones_ + 1) > buckets_.size()) rebuild(buckets_.size());  // drops the tombstones
  place(s);
  ++indexed_;
  if (s.waiter == Waiter::kCallback) callbacks_.store(callbacks_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void ReplyTable::unindex(ReplySlot& s) {
  buckets_[static_cast<size_t>(s.bucket)] = kTombstone;
  s.bucket = -1;
  --indexed_;
  ++tombstones_;
  if (s.waiter == Waiter::kCallback) callbacks_.store(callbacks_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

ReplySlot* ReplyTable::add(const RequestInfo& info, Waiter waiter, Client::ReplyCallback done) {
  std::lock_guard<std::mutex> guard(mu_);
  if (free_.empty()) grow();
  ReplySlot& s = *slots_[free_.back()];
  free_.pop_back();
  s.id.assign(info.id);
  s.request_type.assign(info.request_type);
  s.reply_type.assign(info.reply_type);
  s.endpoint.assign(info.endpoint);
  s.deadline = info.deadline;
  s.timeout = info.timeout;
  s.waiter = waiter;
  s.done = std::move(done);
  s.ok = false;
  s.what.clear();
  // relaxed: nobody else knows the slot before the lock is let go, which publishes it.
  s.state.store(kUnanswered, std::memory_order_relaxed);
  s.hash = hash_of(s.id);
  index(s);
  return &s;
}

ReplySlot* ReplyTable::take(std::string_view correlation_id) {
  const size_t hash = hash_of(correlation_id);
  std::lock_guard<std::mutex> guard(mu_);
  const int32_t b = find(correlation_id, hash);
  if (b < 0) return nullptr;
  ReplySlot& s = *slots_[static_cast<size_t>(buckets_[static_cast<size_t>(b)])];
  unindex(s);
  return &s;
}

bool ReplyTable::withdraw(ReplySlot* s) {
  std::lock_guard<std::mutex> guard(mu_);
  if (s->bucket < 0) return false;
  unindex(*s);
  return true;
}

void ReplyTable::release(ReplySlot* s) {
  Client::ReplyCallback gone = std::move(s->done);  // destroyed outside the lock
  std::lock_guard<std::mutex> guard(mu_);
  free_.push_back(s->index);
}

void ReplyTable::take_expired(std::chrono::steady_clock::time_point now, std::vector<ReplySlot*>& out) {
  out.clear();
  std::lock_guard<std::mutex> guard(mu_);
  if (callbacks_.load(std::memory_order_relaxed) == 0) return;
  for (const auto& s : slots_) {
    if (s->bucket >= 0 && s->waiter == Waiter::kCallback && s->deadline <= now) {
      unindex(*s);
      out.push_back(s.get());
    }
  }
}

void ReplyTable::take_callbacks(std::vector<ReplySlot*>& out) {
  out.clear();
  std::lock_guard<std::mutex> guard(mu_);
  for (const auto& s : slots_) {
    if (s->bucket >= 0 && s->waiter == Waiter::kCallback) {
      unindex(*s);
      out.push_back(s.get());
    }
  }
}

void ReplyTable::wake_one_sleeper() {
  std::lock_guard<std::mutex> guard(mu_);
  for (const auto& s : slots_) {
    if (s->bucket < 0 || s->waiter != Waiter::kThread) continue;
    uint32_t sleeping = kSleeping;
    // seq_cst: pairs with the sleeper's exchange into kSleeping and its look at the poll token
    // after it (ClientImpl::sleep): either it sees the token free, or we see it sleeping.
    if (s->state.compare_exchange_strong(sleeping, kUnanswered, std::memory_order_seq_cst)) {
      futex_wake_all(s->state);
      return;
    }
  }
}

size_t ReplyTable::size() const {
  std::lock_guard<std::mutex> guard(mu_);
  return indexed_;
}

}  // namespace shmbus::service::detail
