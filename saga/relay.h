// Publishes a saga's committed outgoing messages: at once, by the handler thread that
// committed them, and every sweep for what is left in the store (a crash between the commit
// and the publish, a failed publish). Relayed rows are removed by the sweep. At least once:
// a crash between publish and removal publishes a row again, with the same message-id.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "shmbus/bus.h"
#include "shmbus/queue.h"
#include "shmbus/saga/store.h"

namespace shmbus::saga::detail {

// What the relay's thread also removes, and how often (0: keep).
struct Retention {
  std::chrono::milliseconds keep_processed{0};
  std::chrono::milliseconds keep_finished{0};
  std::chrono::milliseconds every{std::chrono::minutes(1)};
};

class Relay {
 public:
  Relay(Bus bus, std::shared_ptr<Store> store, TopicConfig journal, std::chrono::milliseconds sweep,
        Retention retention = {});
  ~Relay();

  // Before the commit: these rows are this thread's to publish (the sweep leaves them).
  void claim(const std::vector<OutgoingMessage>& messages);
  // After the commit: publishes them in order. A failure is logged and left to the sweep.
  void publish_now(const std::vector<OutgoingMessage>& messages) noexcept;
  // The commit failed: the rows are not in the store.
  void abandon(const std::vector<OutgoingMessage>& messages) noexcept;

  void start();
  void stop();      // a last sweep, then the thread ends
  void sweep();     // publishes unclaimed committed rows, removes relayed ones
  uint64_t relayed() const noexcept { return relayed_.load(std::memory_order_relaxed); }
  uint64_t removed() const noexcept { return removed_.load(std::memory_order_relaxed); }

 private:
  void deliver(const OutgoingMessage& m);  // mu_ held
  void run();
  void clean_up();  // retention: on the relay's thread

  Bus bus_;
  std::shared_ptr<Store> store_;
  TopicConfig journal_;
  std::chrono::milliseconds every_;
  Retention retention_;
  std::chrono::steady_clock::time_point next_cleanup_;  // the relay's thread only
  std::mutex mu_;  // guards publishers_, queues_, claimed_, sent_ (publishers are one thread at a time)
  std::map<std::string, Publisher, std::less<>> publishers_;
  std::map<std::string, Queue, std::less<>> queues_;
  std::set<int64_t> claimed_;  // committed or committing rows a handler thread publishes
  std::set<int64_t> sent_;     // published, not yet removed from the store
  std::atomic<uint64_t> relayed_{0};  // relaxed: a counter for stats()
  std::atomic<uint64_t> removed_{0};  // relaxed: a counter for stats()
  std::mutex wait_mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by wait_mu_
  std::thread thread_;
};

}  // namespace shmbus::saga::detail
