// The relay loop. Order and at-least-once, step by step:
//   1. read up to `batch` unsent rows, lowest seq first (only committed rows are visible);
//   2. publish them one by one, in that order; a failure stops the batch there;
//   3. mark the published ones sent, in one transaction.
// A crash after 2 and before 3 leaves rows published but unsent: the next relay publishes them
// again, the same records with the same message-ids, before anything newer (duplicates, never
// gaps or reordering). Rows of a transaction that rolled back were never visible to step 1.
// Where seq order is commit order (SQLite), step 1 reads on after the last seq published and
// step 3 is put off by up to mark_every, so that the relay's write transactions do not alternate
// with the service's for the one write lock; the rows published meanwhile are what a crash
// resends. Where it is not (PostgreSQL), every read starts from the lowest unsent row and step 3
// follows each batch: a row with a lower seq that commits later is still found.
#include "relay.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "shmbus/headers.h"
#include "shmbus/kill_point.h"

namespace shmbus::outbox::detail {
namespace {

constexpr auto kStopSlice = std::chrono::milliseconds(100);
constexpr auto kFirstPause = std::chrono::milliseconds(50);
constexpr auto kLongestPause = std::chrono::milliseconds(2000);

}  // namespace

Relay::Relay(Bus bus, std::shared_ptr<Storage> storage, const OutboxOptions& options)
    : bus_(std::move(bus)), storage_(std::move(storage)), options_(options) {
  options_.journal.kind = TopicKind::kJournal;  // queues read journals
}

Relay::~Relay() { stop(); }

void Relay::start() {
  if (thread_.joinable()) return;
  stopping_.store(false, std::memory_order_relaxed);
  thread_ = std::thread([this] { run(); });
}

void Relay::stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true, std::memory_order_relaxed);
  storage_->wake_relays();
  thread_.join();
  relaying_.store(false, std::memory_order_relaxed);
}

void Relay::run() noexcept {
  std::unique_ptr<RelayConnection> conn;
  auto next_cleanup = std::chrono::steady_clock::now();
  auto pause_for = kFirstPause;
  uint64_t reported = 0;
  while (!stopping_.load(std::memory_order_relaxed)) {
    try {
      if (!conn) {
        conn = storage_->relay_connection();
        std::lock_guard<std::mutex> work(work_mu_);
        unmarked_.clear();  // what the last connection published unmarked goes out again
        published_upto_ = conn->seq_is_commit_order() ? conn->resume_after() : 0;
      }
      if (!conn->lock_relay()) {  // another relay has this database: stand by
        relaying_.store(false, std::memory_order_relaxed);
        wait(*conn, options_.sweep, true);
        continue;
      }
      if (!relaying_.load(std::memory_order_relaxed)) conn->attach(this);  // this relay's commits publish at once
      relaying_.store(true, std::memory_order_relaxed);
      std::unique_lock<std::mutex> work(work_mu_);
      const size_t read = relay_batch(*conn);
      mark(*conn, false);
      if (std::chrono::steady_clock::now() >= next_cleanup) {
        mark(*conn, true);  // cleanup goes by sent_at
        cleanup(*conn);
        next_cleanup = std::chrono::steady_clock::now() + options_.cleanup_every;
      }
      pause_for = kFirstPause;
      if (read == options_.batch) continue;  // there may be more
      if (flushing_.load(std::memory_order_relaxed) > 0) mark(*conn, true);  // flush(): sent means marked
      const bool none_unmarked = unmarked_.empty();
      const auto due = unmarked_since_ + options_.mark_every - std::chrono::steady_clock::now();
      work.unlock();
      drained();
      if (none_unmarked) {
        wait(*conn, options_.sweep, true);  // a committer that publishes wakes it to mark
      } else {
        // ceil: a due under 1 ms waits 1 ms, rather than 0 ms again and again until it passes
        wait(*conn, std::clamp(std::chrono::ceil<std::chrono::milliseconds>(due), std::chrono::milliseconds(0),
                               options_.sweep), false);
      }
    } catch (const std::exception& e) {
      // The database went away (PostgreSQL restarted, the disk is full) or a publish failed:
      // start again from the rows still unsent, after a pause that grows while it fails.
      const uint64_t n = errors_.fetch_add(1, std::memory_order_relaxed) + 1;
      if (n == 1 || n >= reported * 2) {  // 1st, 2nd, 4th, ...: visible, not a flood
        std::fprintf(stderr, "shmbus outbox relay (%s): %s; retrying (error %llu)\n", storage_->describe().c_str(),
                     e.what(), static_cast<unsigned long long>(n));
        reported = n;
      }
      if (conn) conn->attach(nullptr);
      conn.reset();
      relaying_.store(false, std::memory_order_relaxed);
      pause(pause_for);
      pause_for = std::min(pause_for * 2, kLongestPause);
    }
  }
  try {
    if (conn) {
      conn->attach(nullptr);  // no committer publishes from here on
      std::lock_guard<std::mutex> work(work_mu_);
      mark(*conn, true);  // stop(): what was published is marked before the lock goes
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmbus outbox relay (%s): marking sent at stop: %s (those are sent again)\n",
                 storage_->describe().c_str(), e.what());
  }
}

size_t Relay::relay_batch(RelayConnection& conn) {
  const bool ordered = conn.seq_is_commit_order();
  const std::vector<OutboxMessage> batch = conn.unsent(options_.batch, ordered ? published_upto_ : 0);
  std::exception_ptr failed;
  for (const OutboxMessage& m : batch) {
    try {
      publish(m);
    } catch (...) {
      failed = std::current_exception();
      break;  // order: nothing after a message that did not go out
    }
    // The crash window "published, not marked sent": the next relay publishes it again.
    kill_point("outbox.relay.after_publish");
    if (unmarked_.empty()) unmarked_since_ = std::chrono::steady_clock::now();
    unmarked_.push_back(m.seq);
    published_upto_ = m.seq;
    relayed_.fetch_add(1, std::memory_order_relaxed);
  }
  if (failed) {
    mark(conn, true);
    std::rethrow_exception(failed);
  }
  return batch.size();
}

bool Relay::publish_committed(std::vector<OutboxMessage>& rows, bool& wake) noexcept {
  // try: the relay thread at work (or another committer here) has the lock; then the rows go
  // to it as handed-over rows, and it publishes them in their turn.
  std::unique_lock<std::mutex> work(work_mu_, std::try_to_lock);
  if (!work || rows.empty() || rows.front().seq != published_upto_ + 1) return false;  // not next
  for (size_t i = 1; i < rows.size(); ++i) {
    if (rows[i].seq != rows[i - 1].seq + 1) return false;
  }
  wake = unmarked_.empty();  // the relay thread sleeps up to `sweep` then: it must mark in time
  size_t done = 0;
  try {
    for (const OutboxMessage& m : rows) {
      publish(m);
      kill_point("outbox.relay.after_publish");  // as in relay_batch: published, not marked
      if (unmarked_.empty()) unmarked_since_ = std::chrono::steady_clock::now();
      unmarked_.push_back(m.seq);
      published_upto_ = m.seq;
      relayed_.fetch_add(1, std::memory_order_relaxed);
      ++done;
    }
  } catch (...) {
    // The relay thread publishes the rest (and meets the error itself).
    rows.erase(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(done));
    wake = false;
    return false;
  }
  return true;
}

void Relay::mark(RelayConnection& conn, bool now) {
  if (unmarked_.empty()) return;
  const bool due = !conn.seq_is_commit_order() || unmarked_.size() >= options_.batch * 4 ||
                   std::chrono::steady_clock::now() >= unmarked_since_ + options_.mark_every;
  if (!now && !due) return;
  conn.mark_sent(unmarked_);
  kill_point("outbox.relay.after_mark");
  unmarked_.clear();
}

void Relay::publish(const OutboxMessage& m) {
  const HeadersView view(std::as_bytes(std::span(m.headers.data(), m.headers.size())));
  if (!view.valid()) {
    throw Error("outbox row " + std::to_string(m.seq) + " (message " + m.message_id +
                ") has a malformed headers block: the relay stops at it; repair or delete that row");
  }
  headers_.assign(view.begin(), view.end());  // its room reused: no allocation per message
  auto it = publishers_.find(m.topic);
  if (it == publishers_.end()) {
    bus_.create_topic(m.topic, options_.journal);  // false: it exists already, fine
    it = publishers_.emplace(m.topic, bus_.publisher(m.topic)).first;
  }
  const Result<uint64_t> r = it->second.publish(m.payload, headers_);
  if (!r && r.error() != Errc::kNotDurable) {  // kNotDurable: published, not yet on disk
    throw Error("publishing " + m.message_id + " to " + m.topic + " failed: " + it->second.explain(r.error()));
  }
}

void Relay::cleanup(RelayConnection& conn) {
  const auto now = std::chrono::system_clock::now();
  uint64_t removed = conn.remove_sent(now - options_.keep_sent);
  if (options_.keep_processed.count() > 0) removed += conn.remove_processed(now - options_.keep_processed);
  removed_.fetch_add(removed, std::memory_order_relaxed);
}

void Relay::wait(RelayConnection& conn, std::chrono::milliseconds timeout, bool sweep) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!stopping_.load(std::memory_order_relaxed)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      if (sweep) sweeps_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (conn.wait_for_commit(std::min(left, std::chrono::milliseconds(kStopSlice)))) {
      wakeups_.fetch_add(1, std::memory_order_relaxed);
      if (options_.linger.count() > 0) pause(options_.linger);  // let more commits come first
      return;
    }
  }
}

void Relay::pause(std::chrono::microseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stopping_.load(std::memory_order_relaxed) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::min<std::chrono::microseconds>(d, kStopSlice));
  }
}

void Relay::drained() {
  {
    std::lock_guard<std::mutex> guard(drained_mu_);
    ++drained_;
  }
  drained_cv_.notify_all();
}

bool Relay::flush(std::chrono::milliseconds timeout) {
  flushing_.fetch_add(1, std::memory_order_relaxed);
  struct Done {
    std::atomic<uint32_t>& n;
    ~Done() { n.fetch_sub(1, std::memory_order_relaxed); }
  } done{flushing_};
  // Woken before counting (a read that begins after this goes to the database, past the rows
  // this process handed over) and after (so the relay reads again from here, even if a read
  // ended in between): the read that ends drained_ + 1 may have begun before this call;
  // drained_ + 2 began after both wake-ups.
  storage_->wake_relays();
  std::unique_lock<std::mutex> lock(drained_mu_);
  const uint64_t want = drained_ + 2;
  lock.unlock();
  storage_->wake_relays();
  lock.lock();
  return drained_cv_.wait_for(lock, timeout, [&] {
    if (drained_ + 1 == want) storage_->wake_relays();  // the second read need not wait a sweep
    return drained_ >= want;
  });
}

OutboxStats Relay::stats() const noexcept {
  return {relayed_.load(std::memory_order_relaxed), wakeups_.load(std::memory_order_relaxed),
          sweeps_.load(std::memory_order_relaxed),  errors_.load(std::memory_order_relaxed),
          removed_.load(std::memory_order_relaxed), relaying_.load(std::memory_order_relaxed)};
}

}  // namespace shmbus::outbox::detail
