// shmbus_queue_bench: the queue benchmarks of issue 13 in one run, with RabbitMQ beside them.
//
//   shmbus_queue_bench [--repetitions N] [--amqp-url URL | --no-rabbitmq] [--scratch DIR] [--quick] [--only TEXT]
//
// Each repetition runs every measurement once, the floor first and each ratio's two sides back
// to back (which goes first alternates), so drifts of the shared host hit ours and the
// references alike; target ratios are medians of per-repetition ratios (bench/RESULTS.md).
// Markdown on stdout, progress on stderr. tools/queue_bench.sh starts the broker and runs it.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "queue_runs.h"
#include "rabbitmq_harness.h"
#include "shmbus/error.h"

namespace shmbus::bench {
namespace {

struct Options {
  int repetitions = 5;
  std::string amqp_url;
  bool rabbitmq = true;
  std::string scratch;
  bool quick = false;
  int broker_pid = 0;  // the broker's beam process, for its CPU time
  std::string only;  // run just the steps whose name contains this (the floor always runs)
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "shmbus_queue_bench: %s\n"
               "usage: shmbus_queue_bench [--repetitions N] [--amqp-url URL | --no-rabbitmq] [--scratch DIR] [--quick] [--only TEXT] [--broker-pid PID]\n"
               "  --amqp-url   the RabbitMQ node (default: $AMQP_URL); tools/queue_bench.sh starts a private one\n"
               "  --scratch    directory for the buses (default /dev/shm/shmbus-qbench-PID), removed at the end\n"
               "  --quick      one short repetition (a smoke test, not figures)\n"
               "  --broker-pid the broker's OS process (beam.smp): its CPU use is reported\n"
               "  --only       just the measurements whose name contains TEXT (and the floor)\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  if (const char* env = std::getenv("AMQP_URL")) o.amqp_url = env;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + a).c_str());
      return argv[++i];
    };
    if (a == "--repetitions") {
      o.repetitions = std::atoi(next().c_str());
      if (o.repetitions < 1 || o.repetitions > 100) usage("--repetitions: 1 to 100");
    } else if (a == "--amqp-url") {
      o.amqp_url = next();
    } else if (a == "--no-rabbitmq") {
      o.rabbitmq = false;
    } else if (a == "--scratch") {
      o.scratch = next();
    } else if (a == "--broker-pid") {
      o.broker_pid = std::atoi(next().c_str());
    } else if (a == "--only") {
      o.only = next();
    } else if (a == "--quick") {
      o.quick = true;
      o.repetitions = 1;
    } else if (a == "--help" || a == "-h") {
      usage("help");
    } else {
      usage(("unknown argument " + a).c_str());
    }
  }
  return o;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown";
}

// The 1, 5 and 15 minute load averages, as uptime prints them.
std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

double load_one() {
  std::ifstream in("/proc/loadavg");
  double one = 0;
  in >> one;
  return one;
}

std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

std::string rate_text(double per_s) {
  if (per_s >= 1e6) return fmt("%.2f M", per_s / 1e6);
  if (per_s >= 1e3) return fmt("%.1f k", per_s / 1e3);
  return fmt("%.0f", per_s);
}

std::string size_text(size_t bytes) { return bytes % 1024 == 0 ? std::to_string(bytes / 1024) + " KiB" : std::to_string(bytes) + " B"; }

// Key of a throughput run: payload, consumers, batch, fsync always.
struct RunKey {
  size_t payload = 64;
  int consumers = 1;
  unsigned batch = 1;
  bool durable = false;
  int producers = 1;  // threads of the producer process
  bool poll_first = false;  // QueueSpec::poll_first
  auto operator<=>(const RunKey&) const = default;
  std::string name() const {
    std::string n = durable ? "queue fsync always, " + std::to_string(producers) + " producer threads -> 1"
                            : "queue 1 -> " + std::to_string(consumers);
    n += ", " + size_text(payload);
    n += batch == 1 ? ", ack per message" : ", take " + std::to_string(batch) + " then ack each";
    if (poll_first) n += ", try_receive() before receive()";
    return n;
  }
};

struct Results {
  std::vector<double> load;                        // 1-minute load average at each repetition's start
  std::vector<Percentiles> floor;                  // one-way
  std::vector<Percentiles> rtt_spin, rtt_receive;  // round trips
  std::map<size_t, std::vector<Throughput>> stream;  // plain subscriber, journal, by payload
  std::map<RunKey, std::vector<QueueRun>> queue;
  std::vector<GroupCommit> group_commit;  // 8 publisher threads, fsync always, no queue
  std::vector<RabbitResult> classic, quorum;
};

const RunKey kHeadline{64, 1, 1, false};
const RunKey kDurable{64, 1, 1, true, 8};
// Not the figure: 64 producer threads, each pipelining its window of 256 (the issue's
// figure is 8).
const RunKey kDurableWide{64, 1, 1, true, 64};

template <class T, class F>
Spread spread_by(const std::vector<T>& runs, F&& field) {
  std::vector<double> v;
  for (const T& r : runs) v.push_back(field(r));
  return spread_of(v);
}

// One target: ours over the reference per repetition, the median of those ratios and their spread.
struct Target {
  std::string text;  // what is compared
  std::vector<double> ratios;
  double bar = 0;
  bool higher_is_better = true;
  std::string note;  // beside the verdict (the floor, the reference's figure)
  bool measured() const { return !ratios.empty(); }
  Spread spread() const { return spread_of(ratios); }
  bool met() const { return higher_is_better ? spread().median >= bar : spread().median <= bar; }
  bool noisy() const {
    const Spread s = spread();
    return s.min > 0 && s.max / s.min > 1.5;
  }
};

std::vector<Target> targets(const Results& r) {
  std::vector<Target> out;
  const double floor_ns = r.floor.empty() ? 0 : spread_by(r.floor, [](const Percentiles& p) { return p.p50; }).median;
  const std::string floor_note = "floor " + fmt("%.0f", floor_ns) + " ns one-way (" + fmt("%.0f", 2 * floor_ns) +
                                 " ns round trip), cache-line ping-pong, same run";
  const auto& headline = r.queue.count(kHeadline) ? r.queue.at(kHeadline) : std::vector<QueueRun>{};
  {
    Target t{"queue 1 -> 1, 64 B, ack per message / plain subscriber stream of the same journal topic", {}, 0.25, true, floor_note};
    if (r.stream.count(64)) {
      const auto& s = r.stream.at(64);
      for (size_t i = 0; i < headline.size() && i < s.size(); ++i) t.ratios.push_back(headline[i].acked_per_s / s[i].messages_per_s);
    }
    out.push_back(t);
  }
  for (const bool spin : {true, false}) {
    const auto& rtt = spin ? r.rtt_spin : r.rtt_receive;
    Target t{std::string("publish -> handle -> ack round trip p50 / floor round trip p50, consumer ") +
                 (spin ? "busy-polling try_receive()" : "in receive(100 us)"),
             {}, 6.0, false, floor_note};
    for (size_t i = 0; i < rtt.size() && i < r.floor.size(); ++i) t.ratios.push_back(rtt[i].p50 / (2 * r.floor[i].p50));
    out.push_back(t);
  }
  {
    Target t{"queue 1 -> 1, 64 B, fsync never / RabbitMQ classic queue", {}, 100, true, floor_note};
    for (size_t i = 0; i < headline.size() && i < r.classic.size(); ++i) {
      if (r.classic[i].error.empty() && r.classic[i].consumed_per_s > 0) t.ratios.push_back(headline[i].acked_per_s / r.classic[i].consumed_per_s);
    }
    out.push_back(t);
  }
  {
    Target t{"queue fsync always (8 producer threads, group commit) / RabbitMQ quorum queue", {}, 20, true, floor_note};
    const auto& durable = r.queue.count(kDurable) ? r.queue.at(kDurable) : std::vector<QueueRun>{};
    for (size_t i = 0; i < durable.size() && i < r.quorum.size(); ++i) {
      if (r.quorum[i].error.empty() && r.quorum[i].consumed_per_s > 0) t.ratios.push_back(durable[i].acked_per_s / r.quorum[i].consumed_per_s);
    }
    out.push_back(t);
  }
  return out;
}

std::string markdown(const Results& r, const Options& o, const std::string& load_start, const std::string& load_end,
                     const std::string& rabbit_status) {
  std::string out;
  out += "## shmbus queues against RabbitMQ (issue 13)\n\n";
  out += "CPU: " + cpu_model() + ", " + std::to_string(std::thread::hardware_concurrency()) + " CPUs; " +
         std::to_string(o.repetitions) + " interleaved repetitions; medians, spread = min – max.\n";
  out += "Load average (uptime) at start: " + load_start + "; at end: " + load_end + "; 1-minute load at each repetition: ";
  for (size_t i = 0; i < r.load.size(); ++i) out += (i ? ", " : "") + fmt("%.2f", r.load[i]);
  out += ". Other sessions may be compiling on these CPUs: figures under load are lower bounds for both sides.\n";
  out += "RabbitMQ: " + rabbit_status + "\n\n";

  out += "| measurement | median | spread |\n|---|---:|---:|\n";
  auto row = [&](const std::string& name, const Spread& s, const std::function<std::string(double)>& show) {
    out += "| " + name + " | " + show(s.median) + " | " + show(s.min) + " – " + show(s.max) + " |\n";
  };
  auto ns = [](double v) { return fmt("%.0f ns", v); };
  auto msgs = [](double v) { return rate_text(v) + " msg/s"; };
  if (!r.floor.empty()) row("floor: cache-line ping-pong, one-way p50", spread_by(r.floor, [](const Percentiles& p) { return p.p50; }), ns);
  for (const bool spin : {true, false}) {
    const auto& rtt = spin ? r.rtt_spin : r.rtt_receive;
    if (rtt.empty()) continue;
    const std::string how = spin ? "consumer busy-polls try_receive()" : "consumer in receive(100 us)";
    row("publish -> handle -> ack round trip p50, 64 B (" + how + ")", spread_by(rtt, [](const Percentiles& p) { return p.p50; }), ns);
    row("publish -> handle -> ack round trip p99, 64 B (" + how + ")", spread_by(rtt, [](const Percentiles& p) { return p.p99; }), ns);
  }
  for (const auto& [size, runs] : r.stream) {
    row("plain subscriber stream, journal fsync never, " + size_text(size), spread_by(runs, [](const Throughput& t) { return t.messages_per_s; }), msgs);
  }
  for (const auto& [key, runs] : r.queue) {
    row(key.name() + (key.durable ? " (acked)" : ""), spread_by(runs, [](const QueueRun& q) { return q.acked_per_s; }), msgs);
    if (key.durable) {
      row(key.name() + ": flushes", spread_by(runs, [](const QueueRun& q) { return q.flushes_per_s; }), [](double v) { return fmt("%.0f /s", v); });
      row(key.name() + ": records per flush", spread_by(runs, [](const QueueRun& q) { return q.per_flush; }), [](double v) { return fmt("%.1f", v); });
    }
  }
  if (!r.group_commit.empty()) {
    row("fsync always, 8 publisher threads, no queue (shmbus bench's group commit)",
        spread_by(r.group_commit, [](const GroupCommit& g) { return g.messages_per_s; }), msgs);
  }
  for (const bool quorum : {false, true}) {
    const auto& runs = quorum ? r.quorum : r.classic;
    std::vector<RabbitResult> ok;
    for (const RabbitResult& x : runs) {
      if (x.error.empty()) ok.push_back(x);
    }
    if (ok.empty()) continue;
    const std::string q = quorum ? "quorum" : "classic";
    row("RabbitMQ " + q + " queue, 64 B, persistent, confirms (window 256), manual ack (prefetch 256): consumed",
        spread_by(ok, [](const RabbitResult& x) { return x.consumed_per_s; }), msgs);
    row("RabbitMQ " + q + " queue: confirmed at the producer", spread_by(ok, [](const RabbitResult& x) { return x.confirmed_per_s; }), msgs);
    if (ok.front().broker_cores >= 0) {
      row("RabbitMQ " + q + " queue: the broker's CPU (cores)", spread_by(ok, [](const RabbitResult& x) { return x.broker_cores; }),
          [](double v) { return fmt("%.2f", v); });
    }
  }

  out += "\n| target (paired per repetition) | measured | paired ratios | bar | |\n|---|---:|---:|---:|---|\n";
  std::string lines;
  for (const Target& t : targets(r)) {
    const std::string bar = (t.higher_is_better ? ">= " : "<= ") + fmt("%g", t.bar);
    if (!t.measured()) {
      out += "| " + t.text + " | – | – | " + bar + " | not measured |\n";
      continue;
    }
    const Spread s = t.spread();
    out += "| " + t.text + " | " + fmt("%.2f", s.median) + " | " + fmt("%.2f", s.min) + " – " + fmt("%.2f", s.max) + " | " +
           bar + " | " + (t.met() ? "met" : "MISSED") + (t.noisy() ? ", NOISY" : "") + " |\n";
    lines += "- " + t.text + ": " + fmt("%.2f", s.median) + " (goal " + bar + ") [" + (t.met() ? "met" : "missed") + "]; " + t.note +
             (t.noisy() ? "; NOISY (paired ratios differ > 1.5 x: repeat on a quiet host)" : "") + "\n";
  }
  out += "\n" + lines;

  out += "\nPer repetition (msg/s; round trips in ns):\n\n"
         "| rep | load | floor one-way | RTT spin p50 | RTT receive p50 | stream 64 B | queue 1->1 64 B | RabbitMQ classic | queue fsync always | RabbitMQ quorum |\n"
         "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  auto at = [](const auto& v, size_t i, auto&& f) -> std::string { return i < v.size() ? f(v[i]) : std::string("–"); };
  for (int i = 0; i < o.repetitions; ++i) {
    const size_t k = static_cast<size_t>(i);
    auto rabbit = [](const RabbitResult& x) { return x.error.empty() ? rate_text(x.consumed_per_s) : std::string("failed"); };
    out += "| " + std::to_string(i + 1) + " | " + at(r.load, k, [](double v) { return fmt("%.2f", v); }) + " | " +
           at(r.floor, k, [](const Percentiles& p) { return fmt("%.0f", p.p50); }) + " | " +
           at(r.rtt_spin, k, [](const Percentiles& p) { return fmt("%.0f", p.p50); }) + " | " +
           at(r.rtt_receive, k, [](const Percentiles& p) { return fmt("%.0f", p.p50); }) + " | " +
           (r.stream.count(64) ? at(r.stream.at(64), k, [](const Throughput& t) { return rate_text(t.messages_per_s); }) : "–") + " | " +
           (r.queue.count(kHeadline) ? at(r.queue.at(kHeadline), k, [](const QueueRun& q) { return rate_text(q.acked_per_s); }) : "–") + " | " +
           at(r.classic, k, rabbit) + " | " +
           (r.queue.count(kDurable) ? at(r.queue.at(kDurable), k, [](const QueueRun& q) { return rate_text(q.acked_per_s); }) : "–") + " | " +
           at(r.quorum, k, rabbit) + " |\n";
  }
  for (const bool quorum : {false, true}) {
    for (const RabbitResult& x : quorum ? r.quorum : r.classic) {
      if (!x.error.empty()) out += "\nRabbitMQ " + std::string(quorum ? "quorum" : "classic") + " run failed: " + x.error + "\n";
    }
  }
  return out;
}

class ScratchRoot {
 public:
  explicit ScratchRoot(std::string path) : path_(std::move(path)) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchRoot() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

int run(const Options& o) {
  std::string rabbit_status;
  bool rabbit = o.rabbitmq;
  if (rabbit) {
    // Fail fast, before a minute of shmbus runs, if the broker is not there.
    if (std::string e = rabbit_check(o.amqp_url); !e.empty()) {
      std::fprintf(stderr, "shmbus_queue_bench: %s\n  (or --no-rabbitmq for the shmbus figures alone)\n", e.c_str());
      return 1;
    }
    rabbit_status = "the node at " + o.amqp_url + " (classic and quorum queues declared durable per run, deleted after it)";
  } else {
    rabbit_status = "not measured (--no-rabbitmq)";
  }

  ScratchRoot root(o.scratch.empty() ? "/dev/shm/shmbus-qbench-" + std::to_string(::getpid()) : o.scratch);
  BenchContext ctx;
  ctx.cpus = CpuPair::detect();
  ctx.bus_root = root.path();
  ctx.round_trips = o.quick ? 5'000 : 20'000;
  const double qwarm = o.quick ? 0.15 : 0.3, qsec = o.quick ? 0.2 : 0.5;
  const std::string load_start = load_average();
  Results r;
  auto step = [&](int rep, const std::string& name, const std::function<void()>& f) {
    if (!o.only.empty() && name.find(o.only) == std::string::npos && name != "floor ping-pong") return;
    std::fprintf(stderr, "[%d/%d] %s\n", rep + 1, o.repetitions, name.c_str());
    f();
  };
  auto queue_step = [&](int rep, RunKey key) {
    QueueSpec spec;
    spec.payload_bytes = key.payload;
    spec.consumers = key.consumers;
    spec.batch = key.batch;
    spec.fsync_always = key.durable;
    spec.producers = key.producers;
    spec.poll_first = key.poll_first;
    spec.warmup_s = key.durable ? 0.2 : qwarm;
    spec.seconds = key.durable ? (o.quick ? 0.3 : 1.0) : qsec;
    step(rep, key.name(), [&] { r.queue[key].push_back(queue_throughput(ctx, spec)); });
  };
  auto rabbit_step = [&](int rep, bool quorum) {
    if (!rabbit) return;
    RabbitOptions ro;
    ro.url = o.amqp_url;
    ro.quorum = quorum;
    ro.warmup_s = o.quick ? 0.3 : 0.5;
    ro.seconds = o.quick ? 0.5 : 2.0;
    ro.broker_pid = o.broker_pid;
    ro.queue_name = "shmbus-qbench-" + std::to_string(::getpid()) + "-" + std::to_string(rep) + (quorum ? "-quorum" : "-classic");
    step(rep, std::string("RabbitMQ ") + (quorum ? "quorum" : "classic"), [&] {
      RabbitResult x = rabbit_run(ro);
      if (!x.error.empty()) std::fprintf(stderr, "  RabbitMQ %s: %s\n", quorum ? "quorum" : "classic", x.error.c_str());
      (quorum ? r.quorum : r.classic).push_back(x);
    });
    // The broker settles (queue deletion, its schedulers' busy-wait) before our next figure.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  };

  for (int rep = 0; rep < o.repetitions; ++rep) {
    r.load.push_back(load_one());
    step(rep, "floor ping-pong", [&] { r.floor.push_back(floor_pingpong(ctx)); });
    // The two round trips right after the floor they are held against.
    step(rep, "round trip, spin", [&] { r.rtt_spin.push_back(queue_round_trip(ctx, true)); });
    step(rep, "round trip, receive", [&] { r.rtt_receive.push_back(queue_round_trip(ctx, false)); });
    // The headline queue run between its two references: the plain stream and RabbitMQ classic.
    auto stream64 = [&] { step(rep, "plain stream 64 B", [&] { r.stream[64].push_back(shmbus_stream(ctx, 64, true)); }); };
    if (rep % 2 == 0) stream64();
    queue_step(rep, kHeadline);
    if (rep % 2 == 1) stream64();
    rabbit_step(rep, false);
    queue_step(rep, kDurable);
    rabbit_step(rep, true);
    queue_step(rep, kDurableWide);
    step(rep, "group commit, 8 publisher threads", [&] { r.group_commit.push_back(journal_group_commit(ctx, 8)); });
    step(rep, "plain stream 1 KiB", [&] { r.stream[1024].push_back(shmbus_stream(ctx, 1024, true)); });
    queue_step(rep, {1024, 1, 1, false});
    for (const int consumers : {2, 4}) {
      for (const size_t size : {size_t{64}, size_t{1024}}) queue_step(rep, {size, consumers, 1, false});
    }
    queue_step(rep, {64, 1, 32, false});
    queue_step(rep, {64, 1, 1, false, 1, true});
  }
  std::fputs(markdown(r, o, load_start, load_average(), rabbit_status).c_str(), stdout);
  return 0;
}

}  // namespace
}  // namespace shmbus::bench

int main(int argc, char** argv) {
  const shmbus::bench::Options o = shmbus::bench::parse(argc, argv);
  try {
    return shmbus::bench::run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmbus_queue_bench: %s\n", e.what());
    return 1;
  }
}
