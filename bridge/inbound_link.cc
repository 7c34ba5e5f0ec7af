// bridge: InboundLink (inbound_link.h has the protocol).
#include "bridge/inbound_link.h"

#include <thread>
#include <vector>

#include "bridge/origin.h"
#include "bridge/retry_wait.h"

namespace shmbus::bridge {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// How long the queue must be quiet before a partial batch is acked: an end of burst is acked
// this late; within a stream of deliveries the batch fills first. A delivery committed but not
// yet acked is redelivered after a crash with its id, which a reader dedups by. 2, not 1:
// rabbitmq-c polls for the whole milliseconds left, rounded down, and 1 ms less the few us
// already gone is a poll of 0 (measured: 2.6-7 times the acks of a 2 ms wait).
constexpr std::chrono::milliseconds kQuietAck{2};

InboundLink::InboundLink(Bus& bus, const BridgeConfig& config, const InboundConfig& link, std::unique_ptr<Source> source,
                         LinkStatus& status)
    : bus_(bus),
      config_(config),
      link_(link),
      source_(std::move(source)),
      status_(status),
      backoff_(config.broker.reconnect_initial, config.broker.reconnect_max),
      log_(link.name) {}

void InboundLink::fail(const std::string& why) {
  if (status_.set_error(why, realtime_ns())) log_.info(why);
}

void InboundLink::run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    if (!connect(stop)) continue;
    const auto up_since = Clock::now();
    const uint64_t before = status_.confirmed.load(std::memory_order_relaxed);
    session(stop);
    source_->close();
    status_.connected.store(false, std::memory_order_relaxed);
    status_.in_flight.store(0, std::memory_order_relaxed);
    if (stop.load(std::memory_order_relaxed)) break;
    if (Clock::now() - up_since > 30s && status_.confirmed.load(std::memory_order_relaxed) > before) backoff_.reset();
    const auto delay = backoff_.next();
    wait_before_retry(status_, delay, stop);
  }
  log_.info("stopped");
}

bool InboundLink::connect(const std::atomic<bool>& stop) {
  try {
    if (!publisher_ && !link_.topic_from_routing_key) {
      // The local topic: used as it is if it exists, else created as the config says.
      bus_.create_topic(link_.topic, topic_config());
      publisher_ = bus_.publisher(link_.topic);
    }
    source_->open();
  } catch (const TransportError& e) {
    source_->close();
    wait_after_failed_connect(status_, backoff_, log_, e.kind() == FailureKind::kConfig, e.what(), stop);
    return false;
  } catch (const std::exception& e) {  // the bus side: the topic cannot be made or opened
    wait_after_failed_connect(status_, backoff_, log_, true, "local topic " + link_.topic + ": " + e.what(), stop);
    return false;
  }
  status_.connected.store(true, std::memory_order_relaxed);
  status_.connects.fetch_add(1, std::memory_order_relaxed);
  status_.retry_at_ns.store(0, std::memory_order_relaxed);
  log_.info("connected to " + config_.broker.address.masked() + ", consuming queue " + link_.queue);
  committed_tag_ = acked_tag_ = 0;  // delivery tags start again at 1 on a new channel
  failed_ = false;
  return true;
}

void InboundLink::session(const std::atomic<bool>& stop) {
  // Ack in batches: once a quarter of the prefetch window is committed (the broker keeps the
  // rest of the window full meanwhile), or a partial batch once the queue has been quiet for
  // kQuietAck. Not each time the socket is drained: a broker slower than the bridge leaves
  // it drained every few deliveries, and an ack each time was 8 times the acks of a batch a
  // quarter window (bench/RESULTS.md, issue 14), each a send here and a frame for the broker.
  const uint64_t batch = std::max<uint64_t>(1, link_.prefetch / 4);
  while (!failed_ && !stop.load(std::memory_order_relaxed)) {
    const bool pending = committed_tag_ != acked_tag_;
    const Result<void> r = source_->receive([this](const Delivery& d) { deliver(d); }, pending ? kQuietAck : 100ms);
    if (failed_) break;
    if (!r && r.error() == Errc::kClosed) {
      fail(source_->last_error());
      failed_ = true;
      break;
    }
    if (committed_tag_ - acked_tag_ >= batch || (!r && committed_tag_ != acked_tag_)) ack_committed();
    status_.in_flight.store(committed_tag_ - acked_tag_, std::memory_order_relaxed);
  }
  if (!failed_) ack_committed();  // stopping: what is committed is acked, the rest is redelivered
}

void InboundLink::ack_committed() {
  if (committed_tag_ == acked_tag_) return;
  if (!source_->ack(committed_tag_)) {
    fail(source_->last_error());
    failed_ = true;
    return;
  }
  status_.confirmed.fetch_add(committed_tag_ - acked_tag_, std::memory_order_relaxed);
  acked_tag_ = committed_tag_;
}

TopicConfig InboundLink::topic_config() const {
  TopicConfig c;
  if (link_.journal) {
    c.kind = TopicKind::kJournal;
    parse_fsync(link_.fsync, c);
  }
  return c;
}

// The publisher of `topic` (a routing key), or nullptr with `why` ("" when the message is to be
// skipped: no such topic here and create_topics is off). Allocates for a topic met first.
Publisher* InboundLink::topic_publisher(std::string_view topic, std::string& why) {
  if (auto it = publishers_.find(topic); it != publishers_.end()) return &it->second;
  const std::string name(topic);
  try {
    validate_topic_name(name);
  } catch (const Error& e) {
    why = "routing key \"" + name.substr(0, 200) + "\" names no bus topic: " + e.what();
    return nullptr;
  }
  if (!link_.create_topics && !bus_.topic_exists(name)) return nullptr;
  if (link_.create_topics) bus_.create_topic(name, topic_config());  // an existing one is used as it is
  // Reply topics come and go with their clients: past this many the cache starts afresh.
  if (publishers_.size() >= 256) publishers_.clear();
  return &publishers_.emplace(name, bus_.publisher(name)).first->second;
}

// A request from another host: its reply-to topic must exist here, or a local responder would
// take its client for gone. Made as a memory topic (as a Client makes its own).
void InboundLink::make_reply_topic(const Delivery& d) {
  std::string_view reply_to;
  for (const Header& h : d.headers) {
    if (h.key == header_keys::kReplyTo) reply_to = h.value;
  }
  if (reply_to.empty() || reply_topics_.contains(reply_to)) return;
  const std::string name(reply_to);
  try {
    validate_topic_name(name);
  } catch (const Error&) {
    return;  // an AMQP reply queue's name, not a topic: nothing to make
  }
  if (!bus_.topic_exists(name)) {
    TopicConfig c;
    c.capacity = link_.reply_topic_capacity;
    bus_.create_topic(name, c);
  }
  if (reply_topics_.size() >= 4096) reply_topics_.clear();
  reply_topics_.insert(name);
}

// Where `d` goes: its topic's publisher, or nullptr when it is settled here already (skipped,
// dead-lettered: committed_tag_ moved) or could not be (failed_ set: not acked, redelivered).
Publisher* InboundLink::destination(const Delivery& d) noexcept {
  for (const Header& h : d.headers) {
    if (h.key == kOriginHeader && !config_.origin.empty() && h.value == config_.origin) {
      committed_tag_ = d.tag;  // our own, back through the exchange
      status_.skipped.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
  }
  std::string why;
  Publisher* pub = &publisher_;
  try {
    if (link_.topic_from_routing_key) pub = topic_publisher(d.routing_key, why);
    if (pub != nullptr && link_.reply_topic_capacity != 0) make_reply_topic(d);
  } catch (const std::exception& e) {
    fail("local topic " + std::string(d.routing_key) + ": " + e.what() + " (not acked: the broker redelivers it)");
    failed_ = true;
    return nullptr;
  }
  if (pub != nullptr) return pub;
  if (why.empty()) {  // no such topic here (create_topics off): not ours
    committed_tag_ = d.tag;
    status_.skipped.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  try {
    dead_letter(d, why);
    committed_tag_ = d.tag;
    status_.dead_lettered.fetch_add(1, std::memory_order_relaxed);
  } catch (const std::exception& e) {
    fail(std::string("dead-lettering failed: ") + e.what());
    failed_ = true;
  }
  return nullptr;
}

void InboundLink::deliver(const Delivery& d) noexcept {
  if (d.redelivered) status_.redelivered.fetch_add(1, std::memory_order_relaxed);
  Publisher* pub = destination(d);
  if (pub == nullptr) return;
  Publisher& publisher = *pub;
  const std::string_view topic = link_.topic_from_routing_key ? d.routing_key : std::string_view(link_.topic);
  Result<uint64_t> put = Errc::kInvalidArgument;
  if (encoded_headers_size(d.headers) != SIZE_MAX) put = publisher.publish(d.payload, d.headers);
  if (put || (put.error() == Errc::kNotDurable && wait_durable(std::string(topic), put.value()))) {
    committed_tag_ = d.tag;
    status_.forwarded.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (put.error() == Errc::kTooLarge || put.error() == Errc::kInvalidArgument) {
    // The bus cannot hold it: no retry would help. Dead-letter it and ack it.
    try {
      dead_letter(d, put.error() == Errc::kTooLarge ? publisher.explain(Errc::kTooLarge)
                                                    : std::string("a header key or value is over 65535 bytes"));
      committed_tag_ = d.tag;
      status_.dead_lettered.fetch_add(1, std::memory_order_relaxed);
      return;
    } catch (const std::exception& e) {
      fail(std::string("dead-lettering failed: ") + e.what());
    }
  } else {
    fail("publish to local topic " + std::string(topic) + " failed: " + publisher.explain(put.error()) +
         " (not acked: the broker redelivers it)");
  }
  failed_ = true;  // not committed: no ack, the connection goes and the broker redelivers
}

// fsync `always` said kNotDurable: published, not yet known on disk. Ack only once it is.
bool InboundLink::wait_durable(const std::string& topic, uint64_t position) {
  const auto until = Clock::now() + 10s;
  while (Clock::now() < until) {
    try {
      if (bus_.stats(topic).flushed_position > position) return true;
    } catch (const std::exception&) {
      return false;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

void InboundLink::dead_letter(const Delivery& d, const std::string& why) {
  if (!dead_letters_) {
    TopicConfig c;
    c.kind = TopicKind::kJournal;
    bus_.create_topic(link_.dead_letter_topic, c);
    dead_letters_ = bus_.publisher(link_.dead_letter_topic);
  }
  std::vector<Header> headers;
  for (const Header& h : d.headers) {
    if (h.key.size() <= 65535 && h.value.size() <= 65535) headers.push_back(h);
  }
  const std::string now = std::to_string(realtime_ns());
  headers.push_back({"x-death-reason", "undecodable"});
  const std::string error = why.substr(0, 4096);  // named: a Header only views its bytes
  headers.push_back({"x-death-error", error});
  headers.push_back({"x-death-count", "1"});
  headers.push_back({"x-first-death-time", now});
  headers.push_back({"x-last-death-time", now});
  headers.push_back({"x-death-queue", link_.queue});
  // A body too large for the topic is too large here too (same defaults): keep what fits.
  std::span<const std::byte> body = d.payload;
  if (body.size() > dead_letters_.max_payload() / 2) body = body.first(dead_letters_.max_payload() / 2);
  const Result<uint64_t> put = dead_letters_.publish(body, headers);
  if (!put && put.error() != Errc::kNotDurable) {
    throw Error("dead-letter topic " + link_.dead_letter_topic + ": " + dead_letters_.explain(put.error()));
  }
}

}  // namespace shmbus::bridge
