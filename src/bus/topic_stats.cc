// What a bus reports of a topic, and moving its named cursors.
#include <filesystem>

#include "bus/bus_state.h"
#include "log/tail.h"
#include "shmbus/error.h"
#include "topic/cursor_file.h"
#include "topic/slots.h"
#include "topic/subscriber_impl.h"

namespace shmbus::bus {

namespace {
// The named cursors of a journal topic, with their lag behind the tail.
void add_cursor_stats(const std::string& cursor_dir, TopicStats& s) {
  for (const topic::CursorValue& c : topic::CursorFile::list(cursor_dir)) {
    CursorStats cs;
    cs.name = c.name;
    cs.position = c.position;
    cs.lag_bytes = s.tail_position > c.position ? s.tail_position - c.position : 0;
    cs.lag_records = s.tail_seq > c.seq ? s.tail_seq - c.seq : 0;
    cs.committed_ns = c.committed_ns;
    cs.in_use = c.in_use;
    s.cursors.push_back(std::move(cs));
  }
}
}  // namespace

TopicStats BusState::stats(std::string_view name) {
  auto handle = topic(name, /*writable=*/false, /*create=*/false);
  const topic::TopicMeta& m = handle->meta();
  TopicStats s;
  s.name = std::string(name);
  s.config = handle->config();
  s.kind = s.config.kind;
  const log::TailValue tail = log::read_tail_exact(const_cast<log::Tail&>(m.tail));
  s.tail_position = tail.position;
  s.tail_seq = tail.seq;
  // Relaxed: statistics; each counter has one writer or is an RMW.
  s.published = m.counters.retired_published.load(std::memory_order_relaxed);
  s.bytes = m.counters.retired_bytes.load(std::memory_order_relaxed);
  s.lost = m.counters.retired_lost.load(std::memory_order_relaxed);
  for (const auto& p : m.publishers) {
    s.published += p.published.load(std::memory_order_relaxed);
    s.bytes += p.bytes.load(std::memory_order_relaxed);
  }
  for (const auto& sub : m.subscribers) s.lost += sub.lost.load(std::memory_order_relaxed);
  s.unblocked = m.counters.unblocked.load(std::memory_order_relaxed);
  s.evicted = m.counters.evicted.load(std::memory_order_relaxed);
  s.publishers = topic::attached_publishers(m);
  s.subscribers = topic::attached_subscribers(m);
  handle->storage().fill_stats(s);
  if (handle->storage().keeps_records()) add_cursor_stats(handle->storage().cursor_dir(), s);
  return s;
}

namespace {
std::shared_ptr<topic::TopicHandle> journal_topic(BusState& state, std::string_view name) {
  auto handle = state.topic(name, /*writable=*/false, /*create=*/false);
  if (!handle->storage().keeps_records()) {
    throw Error("topic " + std::string(name) + " is a memory topic: named cursors need a journal topic",
                ErrorKind::kInvalidArgument);
  }
  return handle;
}
}  // namespace

void BusState::set_cursor(std::string_view topic, std::string_view name, const StartAt& where) {
  topic::CursorFile::validate_name(name);
  auto handle = journal_topic(*this, topic);
  detail::SubscriberImpl probe(handle, SubscribeOptions(where), shared_from_this());  // finds the record and its seq
  topic::CursorFile::set(handle->storage().cursor_dir(), std::string(name), probe.position(), probe.expected_seq());
}

bool BusState::remove_cursor(std::string_view topic, std::string_view name) {
  return topic::CursorFile::remove(journal_topic(*this, topic)->storage().cursor_dir(), std::string(name));
}

}  // namespace shmbus::bus
