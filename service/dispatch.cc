// The handler pipeline, one step per function:
//   1. find the handler by the `type` header       (none: reject, reason "unknown type/version")
//   2. decode and call it, with immediate retries   (DecodeError: reject, reason "undecodable")
//   3. it returned: send what it sent, then ack      (its messages go only after it succeeded)
//   4. it threw: retry later (nack) while attempts and the filters allow; else dead-letter the
//      record (nack at the last attempt: delivery_limit; a never-retried exception: reject),
//      and once that settled, publish Fault<T> (and answer a requester with it).
// Settle first, Fault second: a settlement that fails (the lease was lost, another consumer
// has the record) publishes no Fault, so a Fault is published once per dead-lettered record
// (none if this process dies between the two).
#include "dispatch.h"

#include <cstdio>
#include <thread>

#include "failure.h"
#include "sender.h"
#include "shmbus/envelope.h"
#include "shmbus/service/topology.h"

namespace shmbus::service::detail {
namespace {

class HandlerThread {
 public:
  HandlerThread(EndpointImpl& e, Consumer consumer)
      : e_(e), consumer_(std::move(consumer)), sender_(e.bus, e.options.journal) {}

  void run() noexcept {
    while (!e_.stopping.load(std::memory_order_relaxed)) {
      Result<Delivery> d = next();
      if (!d) continue;  // kTimeout: look at the stop flag again
      try {
        handle(*d);
      } catch (const std::exception& ex) {
        std::fprintf(stderr, "shmbus endpoint %s: %s (the delivery goes back to the queue)\n", e_.name.c_str(),
                     ex.what());
        (void)consumer_.release(*d);  // fails harmlessly if it was settled already
      }
    }
  }

 private:
  // The next delivery, or kTimeout after idle_wait (then the caller looks at the stop flag).
  Result<Delivery> next() noexcept {
    const WaitStrategy wait = e_.options.wait;
    if (wait == WaitStrategy::kBlock) return consumer_.receive(e_.options.idle_wait);
    const auto until = std::chrono::steady_clock::now() + e_.options.idle_wait;
    for (;;) {
      Result<Delivery> d = consumer_.try_receive();
      if (d || d.error() != Errc::kTimeout || std::chrono::steady_clock::now() >= until) return d;
      if (wait == WaitStrategy::kYield) std::this_thread::yield();
    }
  }

  void handle(Delivery& d) {
    const Envelope env = Envelope::read(d.message().headers);
    std::string reason;
    const HandlerEntry* h = e_.find(env.type, reason);
    if (!h) return reject_unhandled(d, reason);
    std::exception_ptr error;
    for (uint32_t retry = 0;; ++retry) {
      outgoing_.clear();
      const auto started = std::chrono::steady_clock::now();
      const auto timeout = e_.options.handler_timeout;
      Context ctx(env, e_.name, e_.routes, outgoing_, d.attempt(), retry,
                  timeout.count() > 0 ? started + timeout : std::chrono::steady_clock::time_point::max());
      try {
        h->invoke(d.message().text(), ctx);
        if (ctx.past_deadline()) throw_timeout(env, std::chrono::steady_clock::now() - started);
        send_outgoing(env);
        if (consumer_.ack(d)) e_.counters.add(e_.counters.handled);
        return;
      } catch (const DecodeError& ex) {
        return reject_unhandled(d, std::string("undecodable: ") + ex.what());
      } catch (...) {
        error = std::current_exception();
      }
      if (!e_.retryable(error) || retry >= e_.options.immediate_retries) break;
      e_.counters.add(e_.counters.retried);
    }
    failed(d, env, *h, error);
  }

  [[noreturn]] void throw_timeout(const Envelope& env, std::chrono::nanoseconds took) const {
    const auto ms = [](auto d) { return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()); };
    throw HandlerTimeout("the handler of " + env.type + " took " + ms(took) + " ms, over the endpoint's handler_timeout of " +
                         ms(e_.options.handler_timeout) + " ms");
  }

  void reject_unhandled(Delivery& d, const std::string& reason) {
    if (consumer_.reject(d, reason)) e_.counters.add(e_.counters.rejected);
  }

  // Commands are checked to have an endpoint before anything goes, so that a missing one fails
  // the attempt without having sent half of the batch.
  void send_outgoing(const Envelope& handled) {
    for (const Outgoing& out : outgoing_) {
      if (!out.endpoint.empty()) sender_.require_endpoint(out.endpoint);
    }
    const auto expires = handled.expires();
    for (const Outgoing& out : outgoing_) {
      if (out.reply && expires && *expires < std::chrono::system_clock::now()) {
        e_.counters.add(e_.counters.replies_dropped);  // the requester gave up: nobody waits
        continue;
      }
      sender_.publish(out);
    }
  }

  void failed(Delivery& d, const Envelope& env, const HandlerEntry& h, const std::exception_ptr& error) {
    const ErrorText text = describe(error);
    const bool retry = e_.retryable(error);
    if (retry && d.attempt() < e_.options.max_deliveries) {
      if (consumer_.nack(d, {}, text.line())) e_.counters.add(e_.counters.nacked);
      return;
    }
    const uint32_t attempts = d.attempt();
    const std::string payload(d.message().text());
    // At the last attempt a nack dead-letters (delivery_limit); a never-retried one is rejected.
    const Result<void> settled = retry ? consumer_.nack(d, {}, text.line()) : consumer_.reject(d, text.line());
    if (!settled) return;
    e_.counters.add(e_.counters.faulted);
    publish_fault(env, h.type, payload, text, attempts);
  }

  void publish_fault(const Envelope& env, const MessageType& type, const std::string& payload, const ErrorText& text,
                     uint32_t attempts) {
    const FaultInfo info{env.message_id, env.type,       text.type,
                         text.message,   e_.name,        attempts,
                         envelope::format_time(std::chrono::system_clock::now())};
    const std::string json = fault_payload(payload, info);
    const MessageType fault = fault_type(type);
    sender_.publish({event_topic(fault), Envelope::caused_by(env, fault, e_.name), json, false, {}});
    if (!env.reply_to.empty() && env.kind == to_string(MessageKind::kCommand)) {
      const MessageType answer{fault.name, fault.version, MessageKind::kReply};
      sender_.publish({env.reply_to, Envelope::caused_by(env, answer, e_.name), json, true, {}});
    }
  }

  EndpointImpl& e_;
  Consumer consumer_;
  Sender sender_;
  std::vector<Outgoing> outgoing_;
};

}  // namespace

void run_handler_thread(EndpointImpl& e, Consumer consumer) noexcept {
  try {
    HandlerThread(e, std::move(consumer)).run();
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "shmbus endpoint %s: a handler thread could not start: %s\n", e.name.c_str(), ex.what());
  }
}

}  // namespace shmbus::service::detail
