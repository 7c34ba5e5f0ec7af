// The one table of QueueStats fields, in the shape of topic_stats_fields.h (StatField: name,
// unit, description). `shmbus queue stat` (text and --json) and Python's QueueStats (attributes,
// asdict(), repr) are made from it: a new field is added here, once, after its member in queue.h.
//
//   for_each_field(queue.stats(), [](const StatField& f, const auto& value) { ... });
//
// `value` is one of: std::string_view, uint64_t, double, and (bindings, topics)
// std::span<const std::string>. Every field applies to every queue (scope kEvery). The string
// views are valid only during the visitor's call.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "shmbus/queue.h"
#include "shmbus/topic_stats_fields.h"

namespace shmbus {

// Visits every field of `s` in the table's order. Allocates only for the `retry` text.
template <class Visitor>
void for_each_field(const QueueStats& s, Visitor&& visit) {
  using enum StatUnit;
  constexpr StatScope every = StatScope::kEvery;
  const QueueConfig& c = s.config;
  visit(StatField{"name", kText, every, "the queue's name"}, std::string_view(s.name));
  visit(StatField{"bindings", kNames, every, "topic names and patterns the queue is bound to"},
        std::span<const std::string>(c.bindings));
  visit(StatField{"max_deliveries", kCount, every, "failed attempts before a record is dead-lettered"},
        uint64_t{c.max_deliveries});
  visit(StatField{"lease", kSeconds, every, "how long a stalled consumer keeps a delivery"},
        static_cast<double>(c.lease.count()) / 1000.0);
  visit(StatField{"retry", kText, every, "backoff between attempts (exponential:min=,max=,factor=,jitter=)"},
        std::string_view(c.retry.to_string()));
  visit(StatField{"filter", kText, every, "header filter with RabbitMQ's headers-exchange rules (empty: every record)"},
        std::string_view(c.filter));
  visit(StatField{"ordering_key", kText, every, "header whose value orders records per key (empty: no per-key order)"},
        std::string_view(c.ordering_key));
  visit(StatField{"single_active", kFlag, every, "one consumer at a time takes deliveries"}, bool{c.single_active});
  visit(StatField{"dedup_window", kSeconds, every, "records whose message-id was dispatched this recently are dropped"},
        static_cast<double>(c.dedup_window.count()) / 1000.0);
  visit(StatField{"expired_action", kText, every, "what happens to a record past its expires-at: dead-letter or drop"},
        std::string_view(to_string(c.expired)));
  visit(StatField{"ready", kCount, every, "records deliverable now (new and redelivered)"}, uint64_t{s.ready});
  visit(StatField{"in_flight", kCount, every, "deliveries leased to a consumer"}, uint64_t{s.in_flight});
  visit(StatField{"scheduled", kCount, every, "records waiting for a retry's backoff or a nack's delay"},
        uint64_t{s.scheduled});
  visit(StatField{"consumers", kCount, every, "attached consumers of live processes"}, uint64_t{s.consumers});
  visit(StatField{"acked", kCount, every, "records acked"}, uint64_t{s.acked});
  visit(StatField{"nacked", kCount, every, "nacks that scheduled a retry"}, uint64_t{s.nacked});
  visit(StatField{"redelivered", kCount, every, "deliveries after the first of a record"}, uint64_t{s.redelivered});
  visit(StatField{"dead_lettered", kCount, every, "records moved to the dead-letter topic"}, uint64_t{s.dead_lettered});
  visit(StatField{"skipped", kCount, every, "records the queue passed over (claims that never committed, filtered out)"},
        uint64_t{s.skipped});
  visit(StatField{"delayed", kCount, every, "records held back by a not-before time still ahead"}, uint64_t{s.delayed});
  visit(StatField{"parked", kCount, every, "ready records waiting behind an earlier record of their key"},
        uint64_t{s.parked});
  visit(StatField{"parked_keys", kCount, every, "keys with parked records"}, uint64_t{s.parked_keys});
  visit(StatField{"expired", kCount, every, "records dead-lettered or dropped because their expires-at passed"},
        uint64_t{s.expired});
  visit(StatField{"deduplicated", kCount, every, "records dropped: their message-id was seen within the dedup window"},
        uint64_t{s.deduplicated});
  visit(StatField{"lost", kCount, every, "records a ring overwrote or retention deleted before the queue settled them"},
        uint64_t{s.lost});
  visit(StatField{"oldest_ready_ns", kCount, every, "CLOCK_REALTIME timestamp of the oldest ready record (0: none)"},
        static_cast<uint64_t>(s.oldest_ready_ns));
  visit(StatField{"oldest_ready_age", kSeconds, every, "how long the oldest ready record has waited (0: none)"},
        double{s.oldest_ready_age});
  visit(StatField{"dlq_depth", kCount, every, "dead letters not yet replayed or purged"}, uint64_t{s.dlq_depth});
  visit(StatField{"topics", kNames, every, "bound journal topics (with a state file)"},
        std::span<const std::string>(s.topics));
}

}  // namespace shmbus
