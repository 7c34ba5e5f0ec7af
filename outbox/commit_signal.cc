// CommitSignal: a counter and the handed-over rows under a mutex, a condition variable, one
// per database path.
#include "commit_signal.h"

#include <iterator>
#include <map>

namespace shmbus::outbox::detail {

std::shared_ptr<CommitSignal> CommitSignal::for_database(const std::string& key) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<CommitSignal>> signals;
  std::lock_guard<std::mutex> guard(mu);
  std::weak_ptr<CommitSignal>& slot = signals[key];
  std::shared_ptr<CommitSignal> signal = slot.lock();
  if (!signal) {
    signal = std::make_shared<CommitSignal>();
    slot = signal;
  }
  return signal;
}

void CommitSignal::notify() {
  {
    std::lock_guard<std::mutex> guard(mu_);
    ++count_;
  }
  cv_.notify_all();
}

void CommitSignal::notify(std::vector<OutboxMessage>& rows) {
  {
    std::lock_guard<std::mutex> guard(mu_);
    for (OutboxMessage& m : rows) {
      const size_t size = bytes_of(m);
      if (rows_.size() >= kMaxRows || bytes_ + size > kMaxBytes) break;  // the rest: the database read
      // Commits of two threads may hand over out of seq order (both after their COMMIT).
      auto at = rows_.end();
      while (at != rows_.begin() && std::prev(at)->seq > m.seq) --at;
      rows_.insert(at, std::move(m));
      bytes_ += size;
    }
    ++count_;
  }
  cv_.notify_all();
}

void CommitSignal::committed(std::vector<OutboxMessage>& rows) {
  {
    // try: a committer already in the sink (or attach() waiting) means the relay is busy; the
    // hand-over below is as good, and nobody waits on this lock.
    std::unique_lock<std::mutex> guard(sink_mu_, std::try_to_lock);
    bool wake = false;
    if (guard && sink_ && sink_->publish_committed(rows, wake)) {
      guard.unlock();
      if (wake) notify();
      return;
    }
  }
  notify(rows);
}

void CommitSignal::attach(CommittedSink* sink) {
  std::lock_guard<std::mutex> guard(sink_mu_);
  sink_ = sink;
}

void CommitSignal::notify_read_database() {
  {
    std::lock_guard<std::mutex> guard(mu_);
    read_database_ = true;
    ++count_;
  }
  cv_.notify_all();
}

size_t CommitSignal::bytes_of(const OutboxMessage& m) noexcept {
  return m.message_id.size() + m.topic.size() + m.headers.size() + m.payload.size();
}

bool CommitSignal::wait(uint64_t& seen, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const bool came = cv_.wait_for(lock, timeout, [&] { return count_ != seen; });
  seen = count_;
  return came;
}

uint64_t CommitSignal::count() {
  std::lock_guard<std::mutex> guard(mu_);
  return count_;
}

void CommitSignal::relay_locked(bool locked) noexcept {
  relays_.fetch_add(locked ? 1 : -1, std::memory_order_relaxed);
  if (!locked && relays_.load(std::memory_order_relaxed) == 0) {
    std::lock_guard<std::mutex> guard(mu_);
    rows_.clear();  // no relay here to take them; the next one reads the database
    bytes_ = 0;
  }
}

void CommitSignal::relay_write_begin() noexcept {
  std::lock_guard<std::mutex> guard(mu_);
  relay_writing_.store(true, std::memory_order_relaxed);  // mu_ orders it for await_turn's wait
}

void CommitSignal::relay_write_end() noexcept {
  {
    std::lock_guard<std::mutex> guard(mu_);
    relay_writing_.store(false, std::memory_order_release);  // pairs with await_turn's acquire load
  }
  turn_cv_.notify_all();
}

bool CommitSignal::await_turn(std::chrono::milliseconds timeout) {
  if (!relay_writing_.load(std::memory_order_acquire)) return true;  // pairs with relay_write_end
  std::unique_lock<std::mutex> lock(mu_);
  return turn_cv_.wait_for(lock, timeout, [&] { return !relay_writing_.load(std::memory_order_relaxed); });
}

std::vector<OutboxMessage> CommitSignal::take(int64_t after, size_t max) {
  std::vector<OutboxMessage> out;
  std::lock_guard<std::mutex> guard(mu_);
  while (!rows_.empty() && rows_.front().seq <= after) {  // published already
    bytes_ -= bytes_of(rows_.front());
    rows_.pop_front();
  }
  if (read_database_) {
    read_database_ = false;
    return out;
  }
  int64_t next = after + 1;
  while (out.size() < max && !rows_.empty() && rows_.front().seq == next) {
    bytes_ -= bytes_of(rows_.front());
    out.push_back(std::move(rows_.front()));
    rows_.pop_front();
    ++next;
  }
  return out;
}

}  // namespace shmbus::outbox::detail
