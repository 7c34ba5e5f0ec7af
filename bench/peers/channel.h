// One benchmark method for every system a user might pick instead of shmbus: the same
// ping-pong and the same one-way stream, in two processes pinned to the two CPUs, busy-polling
// where the system allows it. A system plugs in as a Channel: a two-way message pipe between
// the parent (side 0) and a forked child (side 1).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace shmbus::bench::peers {

class Channel {
 public:
  virtual ~Channel() = default;
  // Before the fork (anything both sides inherit: socketpairs, queues, daemons).
  virtual void prepare() {}
  // In each process after the fork: side 0 is the parent, side 1 the child.
  virtual void open(int side) = 0;
  // Sends one message to the other side, waiting (busily where the system lets us) for room.
  virtual void send(const std::byte* data, size_t bytes) = 0;
  // Receives the next message from the other side into `buffer` (room for the largest message),
  // busy-polling until there is one. Returns its size.
  virtual size_t receive(std::byte* buffer, size_t room) = 0;
};

// Parses `--mode latency|stream --size BYTES --rounds N --seconds S --warmup S`, runs the measurement
// with a fresh channel from `make`, and prints one JSON line:
//   {"system":..., "mode":"latency", "size":64, "p50_ns":..., "p99_ns":..., "p999_ns":..., "p9999_ns":..., "max_ns":...}
//   {"system":..., "mode":"stream", "size":1024, "msgs_per_s":..., "bytes_per_s":...}
int run_peer_main(int argc, char** argv, const std::string& system, const std::function<std::unique_ptr<Channel>()>& make);

}  // namespace shmbus::bench::peers
