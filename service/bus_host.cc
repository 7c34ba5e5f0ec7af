// An endpoint on the bus: its queue, and a handler thread per `concurrency`, each with its own
// Consumer, Sender and Pipeline. A thread blocks (a condition variable, woken by the breaker's
// transitions and by stop()) while the breaker is open or the rate limit says wait; it never
// spins.
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "endpoint_impl.h"
#include "pipeline.h"
#include "sender.h"

namespace shmbus::service::detail {
namespace {

class BusHost;

// The delivery being handled, settled through the Consumer that received it.
class ConsumerSettlement final : public Settlement {
 public:
  ConsumerSettlement(Consumer& c, Delivery& d) noexcept : c_(c), d_(d) {}
  Result<void> ack() noexcept override { return c_.ack(d_); }
  Result<void> nack(std::string_view error) noexcept override { return c_.nack(d_, {}, error); }
  Result<void> reject(std::string_view error) noexcept override { return c_.reject(d_, error); }

 private:
  Consumer& c_;
  Delivery& d_;
};

class BusHost final : public EndpointHost {
 public:
  explicit BusHost(Bus bus) : bus_(std::move(bus)) {}
  ~BusHost() override { stop(); }

  const Clock& clock() const noexcept override { return real_clock(); }
  void start(EndpointImpl& e) override;
  void stop() noexcept override;
  bool running() const noexcept override { return !threads_.empty(); }
  Queue queue() const override {
    if (!queue_) throw Error("endpoint has no queue before start()");
    return bus_.queue(queue_->name());
  }
  void wake() noexcept override {
    std::lock_guard<std::mutex> guard(mu_);
    cv_.notify_all();
  }

  bool stopping() const noexcept { return stopping_.load(std::memory_order_relaxed); }
  // Blocks until `until`, a wake() or stop(); false once stopping.
  bool wait_until(TimePoint until) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, until, [&] { return stopping(); });
    return !stopping();
  }
  Bus& bus() noexcept { return bus_; }

 private:
  mutable Bus bus_;
  std::optional<Queue> queue_;
  std::vector<std::thread> threads_;
  // relaxed: a flag polled between deliveries (and read under mu_ by waiters); join() syncs the rest.
  std::atomic<bool> stopping_{false};
  std::mutex mu_;  // the waiters' condition variable only: never taken on a delivery's way
  std::condition_variable cv_;
};

class HandlerThread {
 public:
  HandlerThread(EndpointImpl& e, BusHost& host, Consumer consumer)
      : e_(e), host_(host), consumer_(std::move(consumer)), sender_(host.bus(), e.options.journal), pipeline_(e, sender_) {}

  void run() noexcept {
    const Clock& clock = e_.clock();
    while (!host_.stopping()) {
      // The breaker is open or the rate limit is spent: wait, taking nothing, until then (stop()
      // and the breaker's transitions wake us). While a trial runs nobody knows for how long:
      // idle_wait at a time.
      if (pipeline_.gated()) {
        const TimePoint now = clock.now();
        if (const TimePoint ready = pipeline_.ready_at(now); ready > now) {
          pipeline_.note_wait(now);
          (void)host_.wait_until(ready == TimePoint::max() ? now + e_.options.idle_wait : ready);
          continue;
        }
      }
      Result<Delivery> d = next();
      if (!d) continue;  // kTimeout: look at the stop flag again
      handle(*d);
    }
  }

 private:
  // The next delivery, or kTimeout after idle_wait (then the caller looks at the stop flag).
  // kSpin / kYield poll the queue instead of sleeping in receive(): the lowest round trip, a core's cost.
  Result<Delivery> next() noexcept {
    const WaitStrategy wait = e_.options.wait;
    if (wait == WaitStrategy::kBlock) return consumer_.receive(e_.options.idle_wait);
    const auto until = std::chrono::steady_clock::now() + e_.options.idle_wait;
    for (uint32_t polls = 1;; ++polls) {
      Result<Delivery> d = consumer_.try_receive();
      if (d || d.error() != Errc::kTimeout) return d;
      // The clock every 64th empty poll: read at each, it was a fifth of the loop, and a request
      // arriving waited that much longer to be seen. idle_wait is a bound, not a deadline.
      if (polls % 64 == 0 && std::chrono::steady_clock::now() >= until) return d;
      if (wait == WaitStrategy::kYield) std::this_thread::yield();
    }
  }

  void handle(Delivery& d) noexcept {
    const Clock& clock = e_.clock();
    CircuitBreaker::Pass pass = CircuitBreaker::Pass::kYes;
    if (pipeline_.gated()) {
      pass = pipeline_.pass(clock.now());
      if (pass == CircuitBreaker::Pass::kNo) return give_back(d, pass);  // it opened since ready_at
      for (bool first = true;; first = false) {
        const std::optional<TimePoint> later = pipeline_.rate_wait(clock.now(), first);
        if (!later) break;
        if (!host_.wait_until(*later)) return give_back(d, pass);
      }
    }
    try {
      ConsumerSettlement s(consumer_, d);
      pipeline_.handle(d.message(), d.attempt(), s, pass);
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "shmbus endpoint %s: %s (the delivery goes back to the queue)\n", e_.name.c_str(), ex.what());
      (void)consumer_.release(d);  // fails harmlessly if it was settled already
    }
  }

  void give_back(Delivery& d, CircuitBreaker::Pass pass) noexcept {
    (void)consumer_.release(d);
    pipeline_.gave_back(pass);
  }

  EndpointImpl& e_;
  BusHost& host_;
  Consumer consumer_;
  Sender sender_;
  Pipeline pipeline_;
};

void run_handler_thread(EndpointImpl& e, BusHost& host, Consumer consumer) noexcept {
  try {
    HandlerThread(e, host, std::move(consumer)).run();
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "shmbus endpoint %s: a handler thread could not start: %s\n", e.name.c_str(), ex.what());
  }
}

void BusHost::start(EndpointImpl& e) {
  if (!threads_.empty()) return;
  const QueueConfig config = e.queue_config();
  const TopicConfig journal = journal_config(e.options.journal);
  for (const std::string& topic : config.bindings) bus_.create_topic(topic, journal);
  try {
    queue_ = bus_.create_queue(e.name, config);
  } catch (const Error& error) {
    throw Error("endpoint \"" + e.name + "\" cannot declare its queue: " + error.what() +
                    " (if its handlers or options changed, drain the old queue and remove it: shmbus queue rm " +
                    e.name + ")",
                error.kind());
  }
  stopping_.store(false, std::memory_order_relaxed);
  // A Consumer per thread (one thread at a time per Consumer), made here so that a failure to
  // attach throws from start() instead of ending a thread; prefetch 1: a thread handles one
  // message at a time and should hold no other that a free consumer could take.
  std::vector<Consumer> consumers;
  for (uint32_t i = 0; i < e.options.concurrency; ++i) consumers.push_back(queue_->consumer({.prefetch = 1}));
  for (Consumer& c : consumers) {
    threads_.emplace_back([&e, this, c = std::move(c)]() mutable { run_handler_thread(e, *this, std::move(c)); });
  }
}

void BusHost::stop() noexcept {
  if (threads_.empty()) return;
  {
    // Under mu_, so that no waiter checks the flag and then sleeps past this notify.
    std::lock_guard<std::mutex> guard(mu_);
    stopping_.store(true, std::memory_order_relaxed);
    cv_.notify_all();
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

}  // namespace

std::unique_ptr<EndpointHost> bus_host(Bus bus) { return std::make_unique<BusHost>(std::move(bus)); }

}  // namespace shmbus::service::detail
