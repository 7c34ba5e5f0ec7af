#include "messaging/queue_file.h"

#include <bit>
#include <cstring>
#include <filesystem>

#include "base/cas16.h"
#include "base/process_identity.h"
#include "log/file_header.h"
#include "shmbus/error.h"

namespace shmbus::messaging {
namespace fs = std::filesystem;
namespace {

void init_queue_file(std::byte* at, const std::string& queue, const std::string& topic, const QueueConfig& config,
                     const QueueStart& start, uint64_t window) {
  auto* q = new (at) QueueFile{};  // a zeroed file: constructing the atomics is a formality
  log::init_file_header(&q->header.file, log::FileKind::kQueue, queue_file_bytes(window));
  std::memcpy(q->header.name, queue.data(), std::min(queue.size(), kQueueNameBytes));
  std::memcpy(q->header.topic, topic.data(), std::min(topic.size(), kQueueNameBytes));
  q->header.window = window;
  q->header.max_deliveries = config.max_deliveries;
  q->header.lease_ns = std::chrono::nanoseconds(config.lease).count();
  q->header.retry_min_ns = std::chrono::nanoseconds(config.retry.min).count();
  q->header.retry_max_ns = std::chrono::nanoseconds(config.retry.max).count();
  q->header.retry_factor = config.retry.factor;
  q->header.retry_jitter = config.retry.jitter;
  q->header.created_ns = base::realtime_ns();
  q->frontier.seq.store(start.seq, std::memory_order_relaxed);
  q->dispatch.position.store(start.position, std::memory_order_relaxed);
  q->dispatch.seq.store(start.seq, std::memory_order_relaxed);
  q->hints.next_due_ns.store(INT64_MAX, std::memory_order_relaxed);
  // Every entry READY for the seq it will first hold: [start.seq, start.seq + window).
  Entry* entries = entries_of(*q);
  const uint32_t shift = static_cast<uint32_t>(std::countr_zero(window));
  for (uint64_t s = start.seq; s < start.seq + window; ++s) {
    const Control c = Control::fresh(static_cast<uint16_t>((s >> shift) & Control::kLapMask));
    entries[s & (window - 1)].control.store(c.encode(), std::memory_order_relaxed);
  }
}

void check_queue_file(const QueueFile& q, size_t bytes, const std::string& path, const std::string& queue) {
  auto fail = [&](const std::string& what) {
    throw Error(path + ": " + what + "; the queue's state is damaged: remove the file to start the queue afresh on "
                "this topic (its records stay in the topic)", ErrorKind::kCorrupt);
  };
  const uint64_t window = q.header.window;
  if (!std::has_single_bit(window) || window < 64 || window > (1u << 24)) fail("bad window " + std::to_string(window));
  if (bytes != queue_file_bytes(window)) fail("size does not match its window");
  if (q.header.max_deliveries == 0 || q.header.max_deliveries > 255) fail("bad max deliveries");
  if (std::strncmp(q.header.name, queue.c_str(), sizeof q.header.name) != 0) fail("it belongs to another queue");
  // F <= D <= F + window, always (D never passes an entry not yet reset for its lap). Relaxed:
  // a check at open; consumers racing on a sound file keep it so.
  const uint64_t f = q.frontier.seq.load(std::memory_order_relaxed);
  const uint64_t d = q.dispatch.seq.load(std::memory_order_relaxed);
  if (d < f || d - f > window) {
    fail("its dispatch point (seq " + std::to_string(d) + ") is not within a window after its frontier (seq " +
         std::to_string(f) + ")");
  }
  if (q.header.lease_ns <= 0 || q.header.retry_min_ns < 0 || q.header.retry_max_ns < q.header.retry_min_ns) {
    fail("bad lease or backoff");
  }
}

}  // namespace

std::shared_ptr<QueueFileHandle> QueueFileHandle::open_or_create(const std::string& cursor_dir, const std::string& queue,
                                                                 const std::string& topic, const QueueConfig& config,
                                                                 const QueueStart& start) {
  const std::string dir = cursor_dir + "/queues";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create the queue state directory (" + ec.message() + ")", ErrorKind::kIo);
  const std::string path = dir + "/" + queue;
  if (!fs::exists(path)) {
    // Exactly one creator wins (MappedFile::create links into place); the others open its file.
    base::MappedFile::create(path, queue_file_bytes(kDefaultWindow), 0600, [&](std::byte* at) {
      init_queue_file(at, queue, topic, config, start, kDefaultWindow);
    });
  }
  auto h = std::make_shared<QueueFileHandle>();
  h->map_ = base::MappedFile::open(path, base::Access::kReadWrite);
  log::check_file_header(h->map_.data(), h->map_.size(), log::FileKind::kQueue, path);
  if (h->map_.size() < sizeof(QueueFile)) throw Error(path + ": truncated queue state file", ErrorKind::kCorrupt);
  check_queue_file(h->file(), h->map_.size(), path, queue);
  const uint64_t window = h->file().header.window;
  h->entries_ = entries_of(h->file());
  h->mask_ = window - 1;
  h->shift_ = static_cast<uint32_t>(std::countr_zero(window));
  return h;
}

EntryPair load_entry(const Entry& e) noexcept {
  for (;;) {
    // SYNC: entry (read) — acquire pairs with the seq_cst CAS16 of take/settle; the control word
    // read twice tells a consistent {control, time} (every CAS changes the control's epoch or
    // state, except extend, which only moves time forward and is harmless to read torn).
    const uint64_t control = e.control.load(std::memory_order_acquire);
    const int64_t time = e.time.load(std::memory_order_acquire);
    if (e.control.load(std::memory_order_acquire) == control) return {control, time};
  }
}

bool cas_entry(Entry& e, EntryPair& expected, EntryPair desired) noexcept {
  base::U128 seen = base::pack128(expected.control, static_cast<uint64_t>(expected.time));
  if (base::cas16(&e, seen, base::pack128(desired.control, static_cast<uint64_t>(desired.time)))) return true;
  expected = {base::low64(seen), static_cast<int64_t>(base::high64(seen))};
  return false;
}

}  // namespace shmbus::messaging
