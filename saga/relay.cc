#include "relay.h"

#include <cstdio>

#include "shmbus/error.h"

namespace shmbus::saga::detail {

Relay::Relay(Bus bus, std::shared_ptr<Store> store, TopicConfig journal, std::chrono::milliseconds sweep,
             Retention retention)
    : bus_(std::move(bus)), store_(std::move(store)), journal_(std::move(journal)), every_(sweep),
      retention_(retention), next_cleanup_(std::chrono::steady_clock::now()) {
  journal_.kind = TopicKind::kJournal;  // queues read journals
}

Relay::~Relay() { stop(); }

void Relay::claim(const std::vector<OutgoingMessage>& messages) {
  std::lock_guard<std::mutex> guard(mu_);
  for (const OutgoingMessage& m : messages) claimed_.insert(m.seq);
}

void Relay::abandon(const std::vector<OutgoingMessage>& messages) noexcept {
  std::lock_guard<std::mutex> guard(mu_);
  for (const OutgoingMessage& m : messages) claimed_.erase(m.seq);
}

void Relay::publish_now(const std::vector<OutgoingMessage>& messages) noexcept {
  std::lock_guard<std::mutex> guard(mu_);
  // Unclaimed first: what this thread fails to publish below is the sweep's to send.
  for (const OutgoingMessage& m : messages) claimed_.erase(m.seq);
  for (const OutgoingMessage& m : messages) {
    try {
      deliver(m);
      sent_.insert(m.seq);
    } catch (const std::exception& e) {
      // Committed, so not lost: the sweep publishes it (and the ones after it) again.
      std::fprintf(stderr, "shmbus saga relay: %s (the sweep sends it again)\n", e.what());
      return;
    }
  }
}

void Relay::deliver(const OutgoingMessage& m) {
  if (m.action == OutgoingMessage::Action::kCancel) {
    auto it = queues_.find(m.topic);
    if (it == queues_.end()) it = queues_.emplace(m.topic, bus_.queue(m.topic)).first;
    (void)it->second.cancel(m.envelope.message_id);
    relayed_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto it = publishers_.find(m.topic);
  if (it == publishers_.end()) {
    bus_.create_topic(m.topic, journal_);  // false: it exists
    it = publishers_.emplace(m.topic, bus_.publisher(m.topic)).first;
  }
  const std::vector<Header> headers = m.envelope.headers();
  const Result<uint64_t> r = it->second.publish(m.payload, headers);
  if (!r && r.error() != Errc::kNotDurable) {  // kNotDurable: published, not yet on disk
    throw Error("publishing " + m.envelope.type + " to " + m.topic + " failed: " + it->second.explain(r.error()));
  }
  relayed_.fetch_add(1, std::memory_order_relaxed);
}

void Relay::sweep() {
  std::vector<int64_t> relayed;
  {
    std::lock_guard<std::mutex> guard(mu_);
    relayed.assign(sent_.begin(), sent_.end());
  }
  store_->remove_sent(relayed);
  std::vector<OutgoingMessage> rows = store_->unsent(1024);
  std::lock_guard<std::mutex> guard(mu_);
  for (int64_t seq : relayed) sent_.erase(seq);
  for (const OutgoingMessage& m : rows) {
    if (claimed_.contains(m.seq) || sent_.contains(m.seq)) continue;
    deliver(m);  // throws: the next sweep tries again from here
    sent_.insert(m.seq);
  }
}

void Relay::start() {
  {
    std::lock_guard<std::mutex> guard(wait_mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void Relay::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> guard(wait_mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Relay::clean_up() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_cleanup_) return;
  next_cleanup_ = now + retention_.every;
  const auto wall = std::chrono::system_clock::now();
  uint64_t n = 0;
  if (retention_.keep_processed.count() > 0) n += store_->remove_processed(wall - retention_.keep_processed);
  if (retention_.keep_finished.count() > 0) n += store_->remove_finished(wall - retention_.keep_finished);
  removed_.fetch_add(n, std::memory_order_relaxed);
}

void Relay::run() {
  for (;;) {
    try {
      sweep();
      clean_up();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmbus saga relay: sweep: %s (tried again)\n", e.what());
    }
    std::unique_lock<std::mutex> lock(wait_mu_);
    if (stopping_) return;
    wake_.wait_for(lock, every_, [this] { return stopping_; });
  }
}

}  // namespace shmbus::saga::detail
