// The shmbus queue measurements of issue 13 (bench/RESULTS.md, "Durable queues"): each forks its
// processes, pins them, uses a fresh bus under ctx.bus_root and removes it afterwards.
#pragma once

#include <cstddef>

#include "measurements.h"
#include "shmbus/topic.h"

namespace shmbus::bench {

// Journal topics as `shmbus bench` streams them: 64 MiB segments in the scratch directory
// (/dev/shm: the page cache), fsync never, retention keeping four (recycled as spares).
TopicConfig queue_bench_journal();

struct QueueSpec {
  size_t payload_bytes = 64;
  int consumers = 1;          // consumer processes
  unsigned batch = 1;         // 1: receive, handle, ack; N: take up to N deliveries, then handle and ack each
  // try_receive() first, receive(10 ms) only when it found nothing: receive() reads the clock
  // for its deadline before its first poll; this skips that read while deliveries are ready.
  bool poll_first = false;
  bool fsync_always = false;  // segments on disk (TMPDIR or /var/tmp), publish returns once durable
  int producers = 1;          // producer threads (in one process)
  double warmup_s = 0.3;
  double seconds = 0.5;
};

struct QueueRun {
  double acked_per_s = 0;      // acks that succeeded, summed over the consumers, in the window
  double published_per_s = 0;  // records published in the window
  double flushes_per_s = 0;    // fsync always: the topic's flushes in the window
  double per_flush = 0;        // fsync always: records published per flush
};

// 1 producer process -> N consumer processes of one queue bound to one journal topic. The
// producer runs at most a backlog ahead of the acks (16 MiB of payload, at most 100,000
// records), so retention never overtakes the queue; what is measured is the consumers' rate.
// Every consumer reads every word of each payload, then acks it.
QueueRun queue_throughput(BenchContext& ctx, const QueueSpec& spec);

// Round trip publish -> handle -> ack, 64 B: we (pinned to ctx.cpus.ours) publish one record
// stamped with its number; a consumer process (ctx.cpus.peer) takes it, reads it, acks it, then
// stores its number in a cache line of shared memory that we spin on. `spin`: the consumer
// busy-polls try_receive(); otherwise it calls receive(100 us) (the library's wait: 200 polls
// that yield the CPU, then 1 ms sleeps). Nanoseconds, the whole round trip (not halved).
Percentiles queue_round_trip(BenchContext& ctx, bool spin);

}  // namespace shmbus::bench
