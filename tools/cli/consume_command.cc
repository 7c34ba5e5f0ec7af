// `shmbus consume QUEUE [--count N] [--timeout D] [--prefetch N] [--exec CMD] [--json]`: takes
// deliveries of a queue one at a time. Without --exec each is printed and acked. With --exec CMD
// runs per delivery (exec_handler.h) and its exit status settles it:
//   0                  ack
//   65 (EX_DATAERR)    reject: dead-letter now, CMD's stderr tail as x-death-error
//   75 (EX_TEMPFAIL)   nack: retry after the queue's backoff
//   anything else, a signal, --exec-timeout
//                      a failed attempt (nack): retried, and dead-lettered (delivery_limit) after
//                      max_deliveries with CMD's stderr tail (or "exit status N") as x-death-error
// The lease is renewed while CMD runs (a third of the lease at a time), so a slow CMD keeps its
// delivery; --exec-timeout bounds it instead. SIGINT/SIGTERM: passed on to CMD (its process
// group); if CMD then exits 0 the delivery is acked, otherwise it is released uncharged (the
// consumer stopped: the record's fault it is not), and shmbus exits 130/143.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>

#include "cli_output.h"
#include "command.h"
#include "exec_handler.h"
#include "stop_signal.h"

namespace shmbus::cli {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kWaitSlice = 100ms;  // a receive waits at most this long: stop signals are seen quickly
constexpr int kExitReject = 65;     // EX_DATAERR

struct ConsumeOptions {
  std::string queue;
  uint64_t count = 0;  // 0: no limit
  std::string timeout;  // empty: no limit
  uint32_t prefetch = ConsumerOptions{}.prefetch;
  std::string exec;
  std::string exec_timeout;  // empty: none
  bool json = false;
};

// The report of one delivery: what it was and how it was settled.
void report(const Delivery& d, const ConsumeOptions& o, std::string_view outcome, const ExecOutcome* ran) {
  const Message& m = d.message();
  if (o.json) {
    JsonObject line = ran == nullptr ? message_json(m) : JsonObject();
    if (ran != nullptr) {
      line.add("topic", m.topic).add("position", m.position).add("seq", m.seq).add("message_id", m.message_id());
    }
    line.add("queue", o.queue).add("attempt", d.attempt()).add("outcome", outcome);
    if (ran != nullptr) {
      if (ran->exited) line.add("exit_code", ran->exit_code);
      else line.add("signal", ran->signal);
      if (ran->timed_out) line.add("timed_out", true);
    }
    std::cout << line.str() << '\n';
  } else if (ran == nullptr) {
    std::cout << m.topic << " @" << m.position << " seq=" << m.seq << " attempt=" << d.attempt();
    for (Header h : m.headers) std::cout << ' ' << h.key << '=' << h.value;
    std::cout << " | " << m.text() << '\n';
  } else {
    std::cout << m.topic << " @" << m.position << " seq=" << m.seq << " attempt=" << d.attempt() << ": "
              << ran->describe() << " -> " << outcome << '\n';
  }
  std::cout.flush();
}

// The error text a failed CMD leaves in x-death-error: its stderr tail, else how it ended.
std::string error_text(const ExecOutcome& ran) {
  std::string tail = ran.stderr_tail;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
  return tail.empty() ? ran.describe() : ran.describe() + ": " + tail;
}

// The settlement CMD's outcome asks for (the table at the top of this file).
enum class Verdict { kAck, kReject, kNack, kRelease };
Verdict verdict_of(const ExecOutcome& ran) {
  const bool clean_exit = ran.exited && !ran.timed_out;
  if (ran.stopped && !(clean_exit && ran.exit_code == 0)) return Verdict::kRelease;  // we stopped, not the record
  if (clean_exit && ran.exit_code == 0) return Verdict::kAck;
  if (clean_exit && ran.exit_code == kExitReject) return Verdict::kReject;
  return Verdict::kNack;  // 75, any other status, a signal, a timeout: a failed attempt
}

// Settles `d` as CMD's outcome says; returns the outcome's word for the report.
std::string_view settle(Consumer& consumer, Delivery& d, const ExecOutcome& ran) {
  const Verdict v = verdict_of(ran);
  Result<void> r = v == Verdict::kAck      ? consumer.ack(d)
                   : v == Verdict::kReject ? consumer.reject(d, error_text(ran))
                   : v == Verdict::kNack   ? consumer.nack(d, std::nullopt, error_text(ran))
                                           : consumer.release(d);
  constexpr std::string_view kWords[] = {"ack", "reject", "nack", "release"};
  const std::string_view word = kWords[static_cast<int>(v)];
  if (!r && r.error() == Errc::kStaleLease) {
    std::cerr << "shmbus: the lease of " << d.message().topic << " seq " << d.message().seq
              << " was lost while it was handled (another consumer may have it now); nothing settled\n";
    return "stale";
  }
  if (!r) throw Error(std::string(word) + " failed: " + to_string(r.error()));
  return word;
}

std::string_view print_and_ack(Consumer& consumer, Delivery& d) {
  Result<void> r = consumer.ack(d);
  if (!r && r.error() == Errc::kStaleLease) return "stale";
  if (!r) throw Error(std::string("ack failed: ") + to_string(r.error()));
  return "ack";
}

int run_consume(const Context& ctx, const ConsumeOptions& o) {
  catch_stop_signals();
  Bus bus = ctx.open_bus();
  Queue queue = bus.queue(o.queue);
  const QueueConfig config = queue.stats().config;
  ExecLimits limits;
  if (!o.exec_timeout.empty()) limits.timeout = parse_duration(o.exec_timeout, "--exec-timeout");
  limits.extend_every = std::chrono::duration_cast<std::chrono::nanoseconds>(config.lease) / 3;
  const auto idle_limit = o.timeout.empty() ? Clock::duration::max()
                                            : std::chrono::duration_cast<Clock::duration>(parse_duration(o.timeout, "--timeout"));
  Consumer consumer = queue.consumer(ConsumerOptions{o.prefetch});
  uint64_t done = 0;
  Clock::time_point last = Clock::now();
  while (!stop_requested() && (o.count == 0 || done < o.count)) {
    const Clock::duration left = idle_limit == Clock::duration::max() ? idle_limit : idle_limit - (Clock::now() - last);
    if (left <= Clock::duration::zero()) break;  // --timeout: that long without a delivery
    Result<Delivery> got = consumer.receive(std::min<Clock::duration>(left, kWaitSlice));
    if (!got) {
      if (got.error() == Errc::kTimeout) continue;
      throw Error("receive from queue " + o.queue + " failed: " + to_string(got.error()));
    }
    Delivery& d = *got;
    if (o.exec.empty()) {
      report(d, o, print_and_ack(consumer, d), nullptr);
    } else {
      const ExecOutcome ran = run_exec(o.exec, o.queue, d, limits, [&] { return consumer.extend(d).has_value(); });
      report(d, o, settle(consumer, d, ran), &ran);
    }
    ++done;
    last = Clock::now();
  }
  return stop_exit_code();
}

}  // namespace

void add_consume_command(CLI::App& app, Context& ctx) {
  CLI::App* consume = app.add_subcommand("consume", "take deliveries of a queue: print and ack each, or run a command per delivery");
  auto o = std::make_shared<ConsumeOptions>();
  consume->add_option("QUEUE", o->queue)->required();
  consume->add_option("--count", o->count, "stop after N deliveries");
  consume->add_option("--timeout", o->timeout, "stop after this long without a delivery (250ms, 5s, 2m)");
  consume->add_option("--prefetch", o->prefetch, "deliveries this consumer may hold at once")->check(CLI::PositiveNumber);
  consume->add_option("--exec", o->exec, "run CMD (/bin/sh -c) per delivery, payload on stdin, SHMBUS_* in its environment");
  consume->add_option("--exec-timeout", o->exec_timeout, "kill CMD after this long (a failed attempt); default: none");
  add_json_flag(*consume, o->json);
  consume->footer(
      "--exec CMD exit status: 0 ack; 65 (EX_DATAERR) reject (dead-letter now, stderr tail as x-death-error); 75 "
      "(EX_TEMPFAIL) nack (retry after the backoff); anything else, a signal or --exec-timeout: a failed attempt "
      "(retried; dead-lettered after max-deliveries with the stderr tail).\n"
      "CMD's environment: SHMBUS_QUEUE, SHMBUS_TOPIC, SHMBUS_POSITION, SHMBUS_SEQ, SHMBUS_ATTEMPT, "
      "SHMBUS_MESSAGE_ID, SHMBUS_TIMESTAMP_NS, SHMBUS_HEADER_<KEY> (content-type: SHMBUS_HEADER_CONTENT_TYPE). Its "
      "stdout and stderr go to shmbus's stderr.\n"
      "Ends with 0 after --count or --timeout; 130 on SIGINT, 143 on SIGTERM (passed on to CMD; a delivery whose CMD "
      "did not then exit 0 is released uncharged).");
  consume->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_consume(ctx, *o); }; });
}

}  // namespace shmbus::cli
