// Dead-lettering: the record goes to <queue>.dlq (a journal topic) with the reason headers of
// DESIGN.md section 11, then its entry is settled DEAD. Publish first, settle second: a crash
// in between dead-letters it again (the same message-id), never loses it.
#include <algorithm>
#include <string>
#include <vector>

#include "base/kill_point.h"
#include "base/process_identity.h"
#include "messaging/consumer_impl.h"
#include "topic/publisher_impl.h"

namespace shmbus::detail {
using messaging::Control;
using messaging::EntryPair;
using messaging::EntryState;

namespace {
bool is_death_header(std::string_view key) {
  return key == "x-death-reason" || key == "x-death-count" || key == "x-first-death-time" ||
         key == "x-last-death-time" || key == "x-death-error" || key == "x-original-topic" ||
         key == "x-original-position" || key == "x-death-queue" || key == "x-delivery-count";
}

// x-death-count of a record that was dead-lettered before (and replayed); 0 if none or garbage.
uint64_t previous_deaths(const HeadersView& headers) noexcept {
  const std::optional<std::string_view> text = headers.find("x-death-count");
  if (!text || text->empty() || text->size() > 9) return 0;
  uint64_t n = 0;
  for (char c : *text) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}
}  // namespace

Result<void> ConsumerImpl::dead_letter(Attached& a, uint64_t seq, uint64_t position, uint64_t control, int64_t time,
                                       const char* reason, std::string_view error) noexcept {
  messaging::QueueFileHandle& state = *a.bound->state;
  const unsigned deliveries = static_cast<unsigned>(Control::decode(control).attempts) + 1;  // this one included
  // First the lease becomes one whose next failure is its last (epoch + 1, attempts at the
  // limit): a stale holder stops here, publishing nothing, and if we die after publishing, the
  // sweep dead-letters it again (the same message-id) instead of redelivering it.
  {
    Control last = Control::decode(control);
    ++last.epoch;
    last.attempts = static_cast<uint8_t>(std::max<uint32_t>(last.attempts, state.file().header.max_deliveries - 1));
    EntryPair held{control, time};
    if (!messaging::cas_entry(state.entry(seq), held, {last.encode(), time})) return Errc::kStaleLease;
    control = last.encode();
    SHMBUS_KILL_POINT("queue.dead_letter.after_last_lease");
  }
  try {
    Delivery record;
    const log::FrameState found = fill(a, seq, position, record);
    if (found != log::FrameState::kData && found != log::FrameState::kPadding) return Errc::kStorage;  // retried later
    if (found == log::FrameState::kData) {
      const Message& m = record.message();
      const std::string now = std::to_string(base::realtime_ns());
      const std::string attempts = std::to_string(deliveries);
      const std::string pos = std::to_string(m.position);
      const std::string id = m.message_id();
      std::vector<Header> headers;
      for (const Header& h : m.headers) {
        if (!is_death_header(h.key)) headers.push_back(h);
      }
      // A replayed dead letter (shmbus dlq replay) keeps x-death-count and x-first-death-time:
      // dying again counts on from them, as RabbitMQ's x-death does.
      const std::string count = std::to_string(previous_deaths(m.headers) + 1);
      const std::string_view first = m.headers.find("x-first-death-time").value_or(now);
      if (!m.headers.find(header_keys::kMessageId)) headers.push_back({header_keys::kMessageId, id});
      headers.push_back({header_keys::kDeathReason, reason});
      headers.push_back({"x-death-count", count});
      headers.push_back({"x-delivery-count", attempts});
      headers.push_back({"x-first-death-time", first});
      headers.push_back({"x-last-death-time", now});
      if (!error.empty()) headers.push_back({header_keys::kDeathError, error.substr(0, 4096)});
      headers.push_back({"x-original-topic", m.topic});
      headers.push_back({"x-original-position", pos});
      headers.push_back({"x-death-queue", queue_->name()});
      Result<uint64_t> put = queue_->publish_dead_letter(m.payload, headers);
      SHMBUS_KILL_POINT("queue.dead_letter.after_publish");
      if (!put && put.error() != Errc::kNotDurable) return put.error();
    }
    // else: nothing left to dead-letter (a voided claim): settle it all the same.
  } catch (const std::exception&) {
    return Errc::kStorage;  // the dead-letter topic cannot be made or written: the lease expires, we retry
  }
  Control dead = Control::decode(control);
  dead.state = EntryState::kDead;
  dead.owner = 0;
  EntryPair held{control, time};
  if (!messaging::cas_entry(state.entry(seq), held, {dead.encode(), 0})) return Errc::kStaleLease;
  advance_frontier(a);
  return {};
}

}  // namespace shmbus::detail
