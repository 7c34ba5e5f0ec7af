// The in-process word from a commit to the relay: a wake-up, and (SQLite) the committed rows
// themselves, so that the relay of this process publishes them without reading them back.
// One signal per database (its path), shared by every store and connection of this process
// that opened it, so a commit on any of them wakes the relay of any other.
//
// The rows handed over are a cache, never the truth: take() gives only rows that follow the
// last one published without a gap (seqs are dense in SQLite: rowid max + 1), so a row it does
// not hold (another process's, one left out because the cache was full: 4,096 rows or 16 MiB)
// stops it, and the relay
// reads the database instead. A crash loses the cache, not the rows: they wait in the table.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "shmbus/outbox/storage.h"

namespace shmbus::outbox::detail {

// Where a commit's rows may go at once, in the committing thread (the relay holding the lock):
// true if it published them all; else the rows it did not publish are left in `rows`. `wake`:
// set if the relay thread must be woken anyway (to mark them sent in time).
class CommittedSink {
 public:
  virtual bool publish_committed(std::vector<OutboxMessage>& rows, bool& wake) noexcept = 0;

 protected:
  ~CommittedSink() = default;
};

class CommitSignal {
 public:
  static std::shared_ptr<CommitSignal> for_database(const std::string& key);

  // A commit that wrote outbox rows (or Storage::wake_relays): wakes the waiting relays.
  void notify();
  // The same, handing over `rows` (committed, with their seqs; moved from) if a relay of this
  // process takes them; rows beyond the cache's bound are left to the database read.
  void notify(std::vector<OutboxMessage>& rows);
  // A commit's rows: published by the attached sink in this thread if it can (no wake-up of
  // the relay, no copy), else handed over as notify(rows).
  void committed(std::vector<OutboxMessage>& rows);
  // The relay's sink, or nullptr: waits until a committed() call in progress has left it.
  void attach(CommittedSink* sink);
  // wake_relays(): the same as notify(), and the relay's next read goes to the database (a
  // flush() must see every committed row, not only this process's).
  void notify_read_database();
  // Waits until a notify() that came after the one `seen` counted, or `timeout`; then `seen`
  // is the count now. True if one came.
  bool wait(uint64_t& seen, std::chrono::milliseconds timeout);
  uint64_t count();

  // Whether a commit should hand its rows over: a relay of this process holds the relay lock.
  bool wants_rows() const noexcept { return relays_.load(std::memory_order_relaxed) > 0; }
  void relay_locked(bool locked) noexcept;
  // The relay's own write transactions (marks, cleanup) take turns with this process's
  // writers here rather than in SQLite's busy handler, which sleeps 1 ms and more when it
  // finds the lock taken: begin() waits (await_turn) while the relay writes.
  void relay_write_begin() noexcept;
  void relay_write_end() noexcept;
  // False if the relay still writes after `timeout`.
  bool await_turn(std::chrono::milliseconds timeout);

  // The handed-over rows that follow `after` without a gap, at most `max`, lowest seq first;
  // empty if the next row is not here or a database read was asked for (then read it).
  std::vector<OutboxMessage> take(int64_t after, size_t max);

 private:
  // The cache's bounds: beyond them, the database read.
  static constexpr size_t kMaxRows = 4096;
  static constexpr size_t kMaxBytes = size_t{16} << 20;
  static size_t bytes_of(const OutboxMessage& m) noexcept;

  std::mutex sink_mu_;              // held while a committer is in sink_ (attach waits for it)
  CommittedSink* sink_ = nullptr;   // guarded by sink_mu_
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t count_ = 0;               // guarded by mu_
  std::deque<OutboxMessage> rows_;   // guarded by mu_: seq order
  size_t bytes_ = 0;                 // guarded by mu_: bytes_of the rows_
  bool read_database_ = false;       // guarded by mu_
  std::condition_variable turn_cv_;  // relay_write_end() -> await_turn()
  // Set (under mu_) by the relay while it writes. Acquire load in await_turn's fast path pairs
  // with the release store in relay_write_end: the writer that sees it clear sees the turn over.
  std::atomic<bool> relay_writing_{false};
  // Relaxed: a hint read by committers; a wrong answer costs a copy or a database read, and
  // take() skips what is not contiguous. Written by relay connections on lock and close.
  std::atomic<int32_t> relays_{0};
};

}  // namespace shmbus::outbox::detail
