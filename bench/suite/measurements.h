// One repetition of each measurement. Each pins itself to ctx.cpus.ours and forks a peer
// pinned to ctx.cpus.peer; shmbus measurements use a fresh bus under ctx.bus_root.
#pragma once

#include <cstddef>
#include <string>

#include "bench_clock.h"
#include "percentiles.h"
#include "process_pair.h"
#include "shmbus/message.h"

namespace shmbus::bench {

struct BenchContext {
  CpuPair cpus;
  BenchClock clock;
  std::string bus_root;          // a scratch directory, e.g. /dev/shm/shmbus-bench-PID
  size_t round_trips = 200'000;          // per busy-spin latency measurement
  size_t blocking_round_trips = 20'000;  // per latency measurement that sleeps (~20 us each)
  double stream_seconds = 0.25;  // per throughput window
  int next_bus = 0;              // makes each measurement's bus path unique
  std::string fresh_bus_path() { return bus_root + "/run-" + std::to_string(next_bus++); }
};

struct Throughput {
  double messages_per_s = 0;
  double bytes_per_s = 0;  // payload bytes
};

// The floor: a 64-byte message bounced between two cache lines of shared memory (one-way = RTT/2).
Percentiles floor_pingpong(BenchContext& ctx);
// The same with a message of two cache lines (a header before a 64-byte payload needs two).
Percentiles floor_pingpong_two_lines(BenchContext& ctx);
// Single-thread memcpy between two 64 MiB buffers (larger than the caches), bytes/s.
double memcpy_bandwidth(BenchContext& ctx);
// shmbus one-way latency, 64 B: a ping topic and a pong topic, RTT/2. `journal`: journal topics
// (segments in the scratch directory: the page cache, fsync never) instead of memory rings.
Percentiles shmbus_pingpong(BenchContext& ctx, WaitStrategy wait, bool journal = false);
// A Unix-domain stream socket pair doing the same 64 B ping-pong with blocking reads.
Percentiles socket_pingpong(BenchContext& ctx);
// One publisher process streaming to one subscriber process (block policy); the subscriber
// reads every payload byte. Counted at the subscriber.
Throughput shmbus_stream(BenchContext& ctx, size_t payload_bytes, bool journal = false, bool single_publisher = false);
// The same stream through the reference a user would write instead (naive_ring.h): fixed slots
// of `payload_bytes` (64 or 1024) in 8 MiB of shared memory, a forked producer, the same reads.
Throughput naive_ring_stream(BenchContext& ctx, size_t payload_bytes);
// The same naive ring with slots as big as our frame for that payload (96 B for 64 B): how we
// compare when the same bytes per message cross between the cores.
Throughput naive_ring_frame_stream(BenchContext& ctx, size_t payload_bytes);
// The naive ring with slots of `slot_bytes` (64, 88, 96, 128, 1024 or 1056): what a message of
// more than one cache line costs the ring a user would write (bench/protocol/naive_ring_sizes.cc).
Throughput naive_ring_slot_stream(BenchContext& ctx, size_t slot_bytes);
// A publisher alone appending to a journal topic (fsync never, retention as in the stream),
// pinned to our CPU: the journal's write path without a reader.
Throughput journal_append(BenchContext& ctx, size_t payload_bytes);

// Journal fsync `always`, `publishers` threads publishing 64 B records for a while, segments on
// disk (TMPDIR or /var/tmp): how often it flushes and how many records share a flush.
struct GroupCommit {
  double messages_per_s = 0;
  double flushes_per_s = 0;
  double messages_per_flush = 0;
};
GroupCommit journal_group_commit(BenchContext& ctx, int publishers);
// Publish rate of one process into an overwrite topic with `subscribers` subscriptions attached,
// all in one peer process on the other CPU. `reading`: the peer polls them round-robin (their
// reads pull the ring's lines over to its core); otherwise they stay attached and idle, which
// isolates the publisher's own per-subscriber cost.
double fanout_publish_rate(BenchContext& ctx, int subscribers, bool reading);

}  // namespace shmbus::bench
