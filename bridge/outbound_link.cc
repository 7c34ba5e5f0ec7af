// bridge: OutboundLink (outbound_link.h has the protocol).
#include "bridge/outbound_link.h"

#include <algorithm>
#include <charconv>
#include <thread>

#include "bridge/origin.h"
#include "bridge/retry_wait.h"
#include "shmbus/pattern.h"

namespace shmbus::bridge {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct OutboundLink::Reader {
  explicit Reader(std::string name, size_t window) : topic(std::move(name)), in_flight(window) {}
  std::string topic;
  bool journal = false;
  Subscription sub;          // empty while disconnected
  Fifo<uint64_t> in_flight;  // positions of this topic's records in the window, oldest first
  uint64_t sent_through = 0; // highest position sent + 1 in this process: below it a send is a resend
  uint64_t lost_before = 0;  // lost() of subscriptions closed before
  bool touched = false;
  bool skipped = false;      // a bridged record was passed over in this poll
  std::string id_buffer;     // "<topic>@<position>" for records without a message-id
};

OutboundLink::OutboundLink(Bus& bus, const BridgeConfig& config, const OutboundConfig& link, std::unique_ptr<Sink> sink,
                           LinkStatus& status, std::vector<std::string> excluded)
    : bus_(bus),
      config_(config),
      link_(link),
      sink_(std::move(sink)),
      status_(status),
      excluded_(std::move(excluded)),
      backoff_(config.broker.reconnect_initial, config.broker.reconnect_max),
      log_(link.name),
      window_(link.window) {
  touched_.reserve(64);
  // Room for the usual message-ids in every slot, so that sending never allocates.
  for (size_t i = 0; i < window_.capacity(); ++i) window_.push().message_id.reserve(96);
  window_.clear();
}

OutboundLink::~OutboundLink() = default;

void OutboundLink::fail(const std::string& why) {
  if (status_.set_error(why, realtime_ns())) log_.info(why);
}

void OutboundLink::run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    if (!connect(stop)) continue;
    const auto up_since = Clock::now();
    const uint64_t confirmed_before = status_.confirmed.load(std::memory_order_relaxed);
    session(stop);
    teardown();
    if (stop.load(std::memory_order_relaxed)) break;
    // A connection that lasted and did work earns a fresh start of the delays.
    if (Clock::now() - up_since > 30s && status_.confirmed.load(std::memory_order_relaxed) > confirmed_before) {
      backoff_.reset();
    }
    const auto delay = backoff_.next();
    wait_before_retry(status_, delay, stop);
  }
  log_.info("stopped");
}

bool OutboundLink::connect(const std::atomic<bool>& stop) {
  try {
    if (!link_.queue.empty()) open_queue();
    sink_->open();
  } catch (const TransportError& e) {
    sink_->close();
    wait_after_failed_connect(status_, backoff_, log_, e.kind() == FailureKind::kConfig, e.what(), stop);
    return false;
  } catch (const std::exception& e) {  // the bus side: the queue cannot be made or opened
    wait_after_failed_connect(status_, backoff_, log_, true, "local queue " + link_.queue + ": " + e.what(), stop);
    return false;
  }
  status_.connected.store(true, std::memory_order_relaxed);
  status_.connects.fetch_add(1, std::memory_order_relaxed);
  status_.retry_at_ns.store(0, std::memory_order_relaxed);
  log_.info("connected to " + config_.broker.address.masked() + ", exchange " + link_.exchange.name);
  first_seq_ = 1;
  window_.clear();
  failed_ = false;
  for (auto& r : readers_) open_reader(*r, false);
  return true;
}

// Declared with the link's pattern as its binding (opened as it is after a restart; another
// config is refused with the queue layer's message). Deliveries held are the window at most.
void OutboundLink::open_queue() {
  if (consumer_) return;
  QueueConfig c;
  c.bindings = {link_.topics};
  // The bridge never fails a delivery on purpose (it releases, uncharged); only leases lost to a
  // crash or a stall count, and those must not dead-letter a command after a few kills.
  c.max_deliveries = 255;
  queue_ = bus_.create_queue(link_.queue, c);
  consumer_ = queue_.consumer({.prefetch = static_cast<uint32_t>(window_.capacity())});
}

void OutboundLink::open_reader(Reader& r, bool appeared) {
  try {
    const TopicStats stats = bus_.stats(r.topic);
    r.journal = stats.kind == TopicKind::kJournal;
    SubscribeOptions options{link_.from_earliest ? StartAt::earliest() : StartAt::latest(), WaitStrategy::kYield};
    if (r.journal) {
      options.cursor = link_.cursor;
      options.commit = CommitMode::kManual;
    } else {
      // A memory topic has no outbox: what comes from now on. One that appeared while the link
      // runs is read from its first record: a reply topic made for a request just brought in
      // gets its reply within milliseconds, before the next listing would have seen it.
      options.start = appeared ? StartAt::earliest() : StartAt::latest();
    }
    r.sub = bus_.subscribe(r.topic, options);
    r.in_flight.clear();
  } catch (const std::exception& e) {
    fail("topic " + r.topic + " not forwarded: " + e.what() + " (retried every second)");
  }
}

void OutboundLink::refresh_topics() {
  std::vector<std::string> names;
  try {
    names = bus_.topics();
  } catch (const std::exception& e) {
    fail(std::string("cannot list the bus's topics: ") + e.what());
  }
  for (const std::string& name : names) {
    if (!pattern_matches(link_.topics, name)) continue;
    if (std::find(excluded_.begin(), excluded_.end(), name) != excluded_.end()) continue;
    auto known = std::find_if(readers_.begin(), readers_.end(), [&](const auto& r) { return r->topic == name; });
    if (known == readers_.end()) {
      readers_.push_back(std::make_unique<Reader>(name, link_.window));
      open_reader(*readers_.back(), listed_);
    } else if (!(*known)->sub) {
      open_reader(**known, false);  // it failed to open before
    }
  }
  listed_ = true;
  status_.topics.store(readers_.size(), std::memory_order_relaxed);
}

void OutboundLink::session(const std::atomic<bool>& stop) {
  auto last_refresh = Clock::time_point();
  auto last_lag = Clock::time_point();
  while (!failed_) {
    if (stop.load(std::memory_order_relaxed)) {
      drain(10s);
      return;
    }
    const auto now = Clock::now();
    if (now - last_refresh >= 100ms && link_.queue.empty()) {
      refresh_topics();
      last_refresh = now;
    }
    if (now - last_lag >= 1s) {
      update_lag();
      last_lag = now;
    }
    const size_t sent = link_.queue.empty() ? publish_round() : publish_queue_round();
    if (failed_) break;
    std::chrono::milliseconds wait = 20ms;            // idle: heartbeats and new records
    if (sent > 0) wait = 0ms;                         // busy: take what has arrived, go on
    else if (!window_.empty()) wait = 5ms;            // waiting for confirms
    if (window_.full() || sink_->blocked()) wait = 50ms;
    const Result<void> r = sink_->poll(*this, wait);
    if (!r && r.error() == Errc::kClosed) {
      failed_ = true;
      fail(sink_->last_error());
    }
    status_.blocked.store(sink_->blocked(), std::memory_order_relaxed);
    status_.in_flight.store(window_.size(), std::memory_order_relaxed);
  }
}

// SIGTERM: publish nothing new; give what is in flight a bounded time to be confirmed, so the
// cursors stop where the confirms left them.
void OutboundLink::drain(std::chrono::milliseconds limit) {
  const auto until = Clock::now() + limit;
  while (!failed_ && !window_.empty() && Clock::now() < until) {
    const Result<void> r = sink_->poll(*this, 50ms);
    if (!r && r.error() == Errc::kClosed) failed_ = true;
  }
}

void OutboundLink::teardown() {
  // Closing the subscriptions gives their cursors back at the last committed position: the
  // next session resends from there.
  for (auto& r : readers_) {
    r->lost_before += r->sub.lost();
    r->sub = Subscription();
    r->in_flight.clear();
  }
  status_.in_flight.store(0, std::memory_order_relaxed);
  // Queue links: what is unconfirmed goes back to the queue uncharged, ready for the next session.
  for (size_t i = 0; i < window_.size(); ++i) settle(window_[i], false);
  window_.clear();
  sink_->close();
  status_.connected.store(false, std::memory_order_relaxed);
  status_.blocked.store(false, std::memory_order_relaxed);
  failed_ = false;
}

size_t OutboundLink::publish_round() {
  if (sink_->blocked() || readers_.empty()) return 0;  // connection.blocked: the journal keeps it
  size_t sent = 0;
  const size_t n = readers_.size();
  for (size_t k = 0; k < n && !failed_ && !window_.full(); ++k) {
    Reader& r = *readers_[(round_robin_ + k) % n];
    if (!r.sub) continue;
    const size_t budget = std::min<size_t>(window_.capacity() - window_.size(), 256);
    const Result<size_t> got = r.sub.controlled_poll([&](const Message& m) { return send(r, m); }, budget);
    if (r.skipped && r.journal && r.in_flight.empty() && r.sub) {
      // Only bridged records were passed over: nothing waits for a confirm, the cursor follows.
      static_cast<void>(r.sub.commit(r.sub.position()));
    }
    r.skipped = false;
    if (got) {
      sent += *got;
    } else if (got.error() == Errc::kCorrupt) {
      fail("topic " + r.topic + ": invalid bytes in the journal at position " + std::to_string(r.sub.position()) +
           ": not forwarded further (check it with `shmbus journal verify`)");
      r.sub = Subscription();
    }
  }
  ++round_robin_;
  return sent;
}

size_t OutboundLink::publish_queue_round() {
  if (sink_->blocked() || !consumer_) return 0;
  size_t sent = 0;
  while (!failed_ && !window_.full() && sent < 256) {
    Result<shmbus::Delivery> got = consumer_.try_receive();
    if (!got) break;  // kTimeout: none ready; kHeldLimit: the window holds them all
    shmbus::Delivery& d = *got;
    ++sent;
    const Message& m = d.message();
    if (!config_.origin.empty() && m.headers.find(kOriginHeader)) {  // brought in by a bridge: not ours to send on
      static_cast<void>(consumer_.ack(d));
      status_.skipped.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    std::string_view id;
    if (auto given = m.headers.find(header_keys::kMessageId)) {
      id = *given;
    } else {
      queue_id_buffer_.assign(m.topic);
      queue_id_buffer_ += '@';
      char digits[24];
      auto [end, ec] = std::to_chars(digits, digits + sizeof digits, m.position);
      static_cast<void>(ec);
      queue_id_buffer_.append(digits, end);
      id = queue_id_buffer_;
    }
    const Result<uint64_t> seq = sink_->publish({m.topic, m.headers, id, m.payload, config_.origin});
    if (!seq) {
      static_cast<void>(consumer_.release(d));  // not in flight: given back for the next session
      failed_ = true;
      fail(sink_->last_error());
      break;
    }
    Entry& e = window_.push();
    e.reader = nullptr;
    e.position = m.position;
    e.message_id.assign(id);
    e.confirmed = false;
    e.returned = false;
    e.delivery = std::move(d);
    status_.forwarded.fetch_add(1, std::memory_order_relaxed);
    if (e.delivery.attempt() > 1) status_.redelivered.fetch_add(1, std::memory_order_relaxed);
  }
  return sent;
}

// A queue link's delivery: acked once confirmed, else released (uncharged: it comes again).
void OutboundLink::settle(Entry& e, bool confirmed) noexcept {
  if (!e.delivery) return;
  // kStaleLease (the lease ran out meanwhile) changes nothing: the queue delivers it again, a
  // duplicate with the same message-id (at least once).
  static_cast<void>(confirmed ? consumer_.ack(e.delivery) : consumer_.release(e.delivery));
  e.delivery = shmbus::Delivery();
}

PollAction OutboundLink::send(Reader& r, const Message& m) noexcept {
  if (!config_.origin.empty() && m.headers.find(kOriginHeader)) {  // brought in by a bridge: not ours to send on
    r.skipped = true;
    status_.skipped.fetch_add(1, std::memory_order_relaxed);
    return PollAction::kContinue;
  }
  std::string_view id;
  if (auto given = m.headers.find(header_keys::kMessageId)) {
    id = *given;
  } else {
    // Stable: the same record sent again after a crash carries the same id.
    r.id_buffer.assign(m.topic);
    r.id_buffer += '@';
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, m.position);
    static_cast<void>(ec);
    r.id_buffer.append(digits, end);
    id = r.id_buffer;
  }
  const Result<uint64_t> seq = sink_->publish({m.topic, m.headers, id, m.payload, config_.origin});
  if (!seq) {
    failed_ = true;  // this record is not in flight: the next session reads it again
    fail(sink_->last_error());
    return PollAction::kStop;
  }
  Entry& e = window_.push();
  e.reader = &r;
  e.position = m.position;
  e.message_id.assign(id);
  e.confirmed = false;
  e.returned = false;
  r.in_flight.push() = m.position;
  status_.forwarded.fetch_add(1, std::memory_order_relaxed);
  if (m.position < r.sent_through) {
    status_.redelivered.fetch_add(1, std::memory_order_relaxed);
  } else {
    r.sent_through = m.position + 1;
  }
  return window_.full() ? PollAction::kStop : PollAction::kContinue;
}

void OutboundLink::confirmed(uint64_t seq, bool multiple) noexcept {
  if (failed_ || seq < first_seq_) return;  // after a failure nothing may move a cursor
  const uint64_t index = seq - first_seq_;
  if (index >= window_.size()) return;  // not ours (cannot happen on a fresh channel)
  if (multiple) {
    for (uint64_t i = 0; i <= index; ++i) window_[i].confirmed = true;
  } else {
    window_[index].confirmed = true;
  }
  pop_confirmed();
}

void OutboundLink::pop_confirmed() noexcept {
  uint64_t popped = 0;
  while (!window_.empty() && window_.front().confirmed) {
    Reader* r = window_.front().reader;
    if (r == nullptr) {
      settle(window_.front(), true);  // a queue link's delivery
    } else {
      r->in_flight.pop();
      if (!r->touched) {
        r->touched = true;
        touched_.push_back(r);  // within its reserve unless more than 64 topics are in one ack
      }
    }
    window_.pop();
    ++first_seq_;
    ++popped;
  }
  for (Reader* r : touched_) {
    r->touched = false;
    if (!r->journal || !r->sub) continue;
    // Everything of this topic before its oldest record still in flight is confirmed.
    const uint64_t to = r->in_flight.empty() ? r->sub.position() : r->in_flight.front();
    if (!r->sub.commit(to)) fail("topic " + r->topic + ": the cursor could not move to " + std::to_string(to));
  }
  touched_.clear();
  status_.confirmed.fetch_add(popped, std::memory_order_relaxed);
}

void OutboundLink::rejected(uint64_t, bool) noexcept {
  // The broker could not take a message (an internal error): resend from the cursors.
  status_.nacked.fetch_add(1, std::memory_order_relaxed);
  failed_ = true;
  fail("the broker nacked a publish: reconnecting to resend from the cursors");
}

void OutboundLink::returned(const ReturnedMessage& message) noexcept {
  if (failed_) return;
  Entry* entry = nullptr;
  for (size_t i = 0; i < window_.size(); ++i) {
    Entry& e = window_[i];
    if (!e.confirmed && !e.returned && e.message_id == message.message_id) {
      entry = &e;
      break;
    }
  }
  try {
    dead_letter(message, entry);
    if (entry != nullptr) entry->returned = true;
    status_.returned.fetch_add(1, std::memory_order_relaxed);
  } catch (const std::exception& e) {
    // Not dead-lettered: the cursor must not pass it. Resend it (it comes back again).
    failed_ = true;
    fail(std::string("a returned message could not be dead-lettered: ") + e.what());
  }
}

// Rare (an unroutable message): allocates and may throw.
void OutboundLink::dead_letter(const ReturnedMessage& message, const Entry* entry) {
  if (!dead_letters_) {
    TopicConfig c;
    c.kind = TopicKind::kJournal;
    bus_.create_topic(link_.dead_letter_topic, c);
    dead_letters_ = bus_.publisher(link_.dead_letter_topic);
  }
  static constexpr std::string_view kReplaced[] = {"x-death-reason", "x-death-error", "x-death-count", "x-first-death-time",
                                                   "x-last-death-time", "x-original-topic", "x-original-position"};
  std::vector<Header> headers;
  for (const Header& h : message.headers) {
    if (std::find(std::begin(kReplaced), std::end(kReplaced), h.key) == std::end(kReplaced)) headers.push_back(h);
  }
  const std::string now = std::to_string(realtime_ns());
  const std::string position = entry != nullptr ? std::to_string(entry->position) : std::string();
  headers.push_back({"x-death-reason", "unroutable"});
  headers.push_back({"x-death-error", message.reason});
  headers.push_back({"x-death-count", "1"});
  headers.push_back({"x-first-death-time", now});
  headers.push_back({"x-last-death-time", now});
  if (entry != nullptr) {
    headers.push_back({"x-original-topic", entry->reader != nullptr ? std::string_view(entry->reader->topic)
                                                                    : entry->delivery.message().topic});
    headers.push_back({"x-original-position", position});
  }
  const Result<uint64_t> put = dead_letters_.publish(message.payload, headers);
  if (!put && put.error() != Errc::kNotDurable) throw Error("dead-letter topic " + link_.dead_letter_topic + ": " +
                                                            dead_letters_.explain(put.error()));
  if (status_.returned.load(std::memory_order_relaxed) == 0) {
    log_.info("unroutable message " + std::string(message.message_id) + " (" + std::string(message.reason) +
              ") -> local topic " + link_.dead_letter_topic + " (bind a queue to the exchange for that key; further "
              "returns are only counted)");
  }
}

void OutboundLink::update_lag() {
  uint64_t lag = 0, lost = 0;
  if (consumer_) {
    try {
      const QueueStats q = queue_.stats();
      lag = q.ready + q.scheduled;
      lost = q.lost;
    } catch (const std::exception&) {
      // the queue removed meanwhile: the next session declares it again
    }
  }
  for (auto& r : readers_) {
    lost += r->lost_before + r->sub.lost();
    if (!r->journal) continue;
    try {
      for (const CursorStats& c : bus_.stats(r->topic).cursors) {
        if (c.name == link_.cursor) lag += c.lag_records;
      }
    } catch (const std::exception&) {
      // a topic removed meanwhile: no lag to report
    }
  }
  status_.lag.store(lag, std::memory_order_relaxed);
  status_.lost.store(lost, std::memory_order_relaxed);
}

}  // namespace shmbus::bridge
