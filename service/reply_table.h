// The requests of a bus Client waiting for their replies, by correlation-id: a table of slots
// made ahead (64, doubled when all are taken), found through an open-addressed index of their
// ids' hashes. Once as many requests as ever before are out at once, adding, finding and removing
// one allocates nothing (a slot's strings keep their room). Thread-safety: every method may be
// called from any thread (one mutex, held for a lookup's length, never while a callback runs).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "shmbus/service/client.h"
#include "shmbus/service/envelope.h"

namespace shmbus::service::detail {

// Who waits for a slot's reply: a thread in Client::call (it reads the answer from the slot),
// or a callback (future and callback requests).
enum class Waiter : uint8_t { kThread, kCallback };

// A waiting thread's slot state, also its futex word.
inline constexpr uint32_t kUnanswered = 0;
inline constexpr uint32_t kSleeping = 1;  // unanswered, and the thread sleeps on the word: wake it
inline constexpr uint32_t kAnswered = 2;

struct ReplySlot {
  // Written by ReplyTable::add under the table's lock; read by the one thread that took the slot
  // out of the index (take, withdraw, take_expired), which the lock orders after the add.
  std::string id;            // the request's message-id = the reply's correlation-id
  std::string request_type;  // "GetOrderStatus@1", for the error texts
  std::string reply_type;    // the type header the reply must have
  std::string endpoint;
  std::chrono::steady_clock::time_point deadline;
  std::chrono::nanoseconds timeout{};
  Waiter waiter = Waiter::kCallback;
  Client::ReplyCallback done;  // kCallback

  // A waiting thread's answer, written by whoever took the slot out before it stores kAnswered
  // into `state` (release), read by the thread after it loads kAnswered (acquire).
  bool ok = false;
  RequestErrc code = RequestErrc::kTimeout;
  std::string payload;  // the reply's JSON (ok)
  std::string what;     // the error's text (not ok)
  std::atomic<uint32_t> state{kUnanswered};

  // The table's bookkeeping (under its lock).
  uint32_t index = 0;   // in the table's slots
  int32_t bucket = -1;  // in the index; -1: not indexed (free, or taken out)
  size_t hash = 0;
};

// What a request is, as ReplyTable::add stores it.
struct RequestInfo {
  std::string_view id, request_type, reply_type, endpoint;
  std::chrono::steady_clock::time_point deadline;
  std::chrono::nanoseconds timeout{};
};

class ReplyTable {
 public:
  ReplyTable();

  // A slot for request `info`, indexed by its id (a new one if all are taken).
  ReplySlot* add(const RequestInfo& info, Waiter waiter, Client::ReplyCallback done);
  // Takes out the slot the reply `correlation_id` answers (nullptr: unknown, timed out, or
  // already taken): the caller then answers it (and, for a callback, releases it).
  ReplySlot* take(std::string_view correlation_id);
  // Takes `s` out if it is still indexed (its waiter timing out, or its send failing); false:
  // another thread took it and answers it.
  bool withdraw(ReplySlot* s);
  // A slot taken out and done with, free again.
  void release(ReplySlot* s);
  // Takes out the callback slots whose deadline passed (`out` is cleared first: its room is
  // reused); a waiting thread times itself out.
  void take_expired(std::chrono::steady_clock::time_point now, std::vector<ReplySlot*>& out);
  // Takes out every callback slot (the Client is going away).
  void take_callbacks(std::vector<ReplySlot*>& out);
  // Wakes one thread sleeping in its slot (kSleeping -> kUnanswered): the reply topic has
  // nobody reading it, so that thread should.
  void wake_one_sleeper();

  size_t size() const;
  // Callback slots indexed: whether the reply thread must read replies. relaxed: a hint read
  // without the lock (the reply thread looks again every 10 ms).
  size_t callbacks() const noexcept { return callbacks_.load(std::memory_order_relaxed); }

 private:
  static constexpr int32_t kEmpty = -1, kTombstone = -2;
  int32_t find(std::string_view id, size_t hash) const;  // the bucket, or -1
  void place(ReplySlot& s);  // into the buckets only
  void index(ReplySlot& s);  // and counted
  void unindex(ReplySlot& s);
  void grow();
  void rebuild(size_t buckets);  // the index anew, without tombstones

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<ReplySlot>> slots_;  // never shrinks: a slot's address is stable
  std::vector<uint32_t> free_;
  std::vector<int32_t> buckets_;  // slot index, kEmpty or kTombstone; a power of two long
  std::vector<uint32_t> scratch_;  // rebuild()'s list of indexed slots, its room reused
  size_t indexed_ = 0, tombstones_ = 0;
  std::atomic<size_t> callbacks_{0};  // written under mu_ (relaxed); see callbacks()
};

}  // namespace shmbus::service::detail
