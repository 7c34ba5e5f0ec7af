// shmbus_bridge_bench (issue 14, "Benchmarks"): the real `shmbus bridge` process against a bare
// rabbitmq-c client (bare_amqp.h) on the same broker, in one run, interleaved:
//   outbound  a journal topic holding N records; a bridge with a fresh cursor forwards them with
//             publisher confirms (window W). Timed from the first confirmed record (the cursor's
//             first move) to the last (the cursor at the tail: it moves only past confirms), so
//             connection set-up is left out; the bare publisher is timed from its first confirm
//             to its N-th on an open connection, the same way.
//   inbound   N messages in a queue (filled by the bare publisher); a bridge consuming with
//             prefetch P commits them into a fresh journal topic and acks; timed from the first
//             record committed to the N-th. The bare consumer (same prefetch, same batched acks)
//             from its first delivery to its N-th.
//   latency   a local publisher's publish() call, 64 B into a journal topic at a fixed pace, with
//             a bridge draining that topic and without (interleaved).
// The floor (cache-line ping-pong, one-way) is measured at the start of every repetition.
// CPU per message: the bridge process (every thread, its CPU-time clock) and the bare client's
// thread over the timed window; sleeps: their voluntary context switches (waits for the
// socket) per 1,000 messages. --compare-cli runs a second bridge build inbound as a third side
// (e.g. the base commit's CLI), each paired with the same bare run.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bare_amqp.h"
#include "measurements.h"
#include "percentiles.h"
#include "shmbus/bus.h"
#include "shmbus/error.h"
#include "shmbus/publisher.h"
#include "shmbus/subscription.h"
#include "shmbus/topic.h"

namespace shmbus::bench {
namespace {

using namespace std::chrono_literals;

constexpr const char* kExchange = "shmbus-bench";
constexpr const char* kOutQueue = "shmbus-bench-out";
constexpr const char* kInQueue = "shmbus-bench-in";

struct Options {
  std::string cli;
  std::string url;
  std::string scratch;
  int repetitions = 5;
  uint64_t messages = 50000;
  uint32_t window = 1024;   // the bridge's default outbound window
  uint32_t prefetch = 256;  // the bridge's default inbound prefetch
  uint64_t latency_messages = 100000;
  double latency_interval_us = 10;
  std::string only;
  int broker_pid = 0;  // the broker's OS process, for its CPU time (0: not reported)
  std::string compare_cli;  // inbound: a second CLI (an older build) as a third side, paired with the same bare runs
  uint64_t retain_bytes = 0;  // inbound topics' retention (0: kept forever, every segment fresh memory)
};

// The CPU time of a whole process (every thread), in seconds, to the ns from its CPU-time clock;
// from /proc's utime + stime (10 ms ticks: +-0.2 us a message over 50,000) if that clock cannot
// be had; -1 if neither.
double process_cpu_s(int pid) {
  if (pid <= 0) return -1;
  clockid_t clock{};
  timespec t{};
  if (::clock_getcpuclockid(pid, &clock) == 0 && ::clock_gettime(clock, &t) == 0) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');  // the command may hold spaces
  if (close == std::string::npos) return -1;
  unsigned long long utime = 0, stime = 0;
  // After ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
  if (std::sscanf(stat.c_str() + close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) return -1;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Voluntary context switches of every thread of a process (its waits: for the socket, for a
// sleep), from /proc/PID/task/*/status; -1 if unreadable.
double process_sleeps(int pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return -1;
  double total = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(dir + "/" + e->d_name + "/status");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0) total += std::stod(line.substr(line.find(':') + 1));
    }
  }
  ::closedir(d);
  return total;
}

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

void wait_until(const std::function<bool()>& done, double timeout_s, const std::string& what) {
  const double until = now_s() + timeout_s;
  while (!done()) {
    if (now_s() > until) throw Error("bridge bench: timed out waiting for " + what);
    std::this_thread::sleep_for(200us);
  }
}

// One `shmbus --bus B bridge --config F` process, its output in F.log; SIGTERM on destruction.
class BridgeProcess {
 public:
  BridgeProcess(const std::string& cli, const std::string& bus, const std::string& config) : log_(config + ".log") {
    pid_ = ::fork();
    if (pid_ < 0) throw Error("fork failed");
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execl(cli.c_str(), "shmbus", "--bus", bus.c_str(), "bridge", "--config", config.c_str(), nullptr);
      std::perror("exec shmbus");
      ::_exit(127);
    }
  }
  ~BridgeProcess() { stop(); }
  BridgeProcess(const BridgeProcess&) = delete;
  BridgeProcess& operator=(const BridgeProcess&) = delete;
  // SIGTERM, and its CPU time once it has ended (from wait4: microseconds, whole life).
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const double until = now_s() + 30;
    int status = 0;
    rusage usage{};
    while (::wait4(pid_, &status, WNOHANG, &usage) == 0) {
      if (now_s() > until) {
        ::kill(pid_, SIGKILL);
        ::wait4(pid_, &status, 0, &usage);
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
    cpu_s_ = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
             static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
    pid_ = -1;
  }
  double cpu_s() const { return cpu_s_; }
  pid_t pid() const { return pid_; }
  void check_alive() {
    int status = 0;
    if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      std::ifstream in(log_);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      throw Error("the bridge exited early; its log:\n" + text.substr(text.size() > 3000 ? text.size() - 3000 : 0));
    }
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  double cpu_s_ = -1;
};

std::string config_head(const Options& o) {
  return "[broker]\nurl = \"" + o.url + "\"\nheartbeat = 10\n";  // state files beside the config
}

std::string write_config(const Options& o, const std::string& name, const std::string& body) {
  const std::string path = o.scratch + "/" + name + ".toml";
  std::ofstream(path) << config_head(o) << body;
  return path;
}

std::string outbound_config(const Options& o, const std::string& name, const std::string& topic, const std::string& cursor) {
  return write_config(o, name,
                      "\n[[outbound]]\nname = \"out\"\ntopics = \"" + topic + "\"\nexchange = \"" + kExchange +
                          "\"\nexchange_type = \"topic\"\ncursor = \"" + cursor + "\"\nwindow = " + std::to_string(o.window) +
                          "\n");
}

const CursorStats* find_cursor(const TopicStats& s, const std::string& name) {
  for (const CursorStats& c : s.cursors) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

struct Context {
  Options o;
  Bus bus;
  BareAmqp admin;
  BareAmqp client;
  BenchContext bench;
  int run = 0;
};

void fill_topic(Bus& bus, const std::string& topic, uint64_t n, size_t bytes, uint64_t retain_bytes = 0) {
  TopicConfig c;
  c.kind = TopicKind::kJournal;
  c.retain_bytes = retain_bytes;
  bus.create_topic(topic, c);
  Publisher p = bus.publisher(topic);
  std::string payload(bytes, 'x');
  for (uint64_t i = 0; i < n; ++i) {
    std::memcpy(payload.data(), &i, std::min(sizeof i, payload.size()));
    if (!p.publish(payload)) throw Error("bridge bench: publish to " + topic + " failed");
  }
}

// Outbound progress, the same observer for both sides: the broker queue's depth (a passive
// declare on the admin connection every millisecond) from the first message in it to the N-th.
// (bus.stats() would see the bridge's cursor, but it scans the journal's files: polled this
// often it takes a share of the two CPUs the bridge and the broker need.)
// `ours`: the bridge's pid, whose CPU time is taken over the same window (0: not ours to take).
TimedRun watch_depth(Context& x, const char* queue, const std::function<void()>& check, int ours = 0) {
  TimedRun run;
  run.total = x.o.messages;
  double cpu0 = -1, broker0 = -1, sleeps0 = -1;
  const double until = now_s() + 300;
  for (;;) {
    const uint64_t done = x.admin.depth(queue);
    if (done > 0) {
      const double t = now_s();
      if (run.first_s == 0) {
        run.first_s = t;
        run.at_first = done;
        cpu0 = process_cpu_s(ours);
        broker0 = process_cpu_s(x.o.broker_pid);
        if (ours > 0) sleeps0 = process_sleeps(ours);
      }
      run.last_s = t;
      if (done >= x.o.messages) {
        if (cpu0 >= 0) run.cpu_s = process_cpu_s(ours) - cpu0;
        if (sleeps0 >= 0) run.sleeps = process_sleeps(ours) - sleeps0;
        if (broker0 >= 0) run.broker_s = process_cpu_s(x.o.broker_pid) - broker0;
        return run;
      }
    }
    check();
    if (now_s() > until) throw Error("bridge bench: the queue did not reach N messages within 300 s");
    std::this_thread::sleep_for(1ms);
  }
}

// The bridge forwarding the N records of `topic` through a fresh cursor.
TimedRun bridge_outbound(Context& x, const std::string& topic) {
  const std::string cursor = "c" + std::to_string(x.run++);
  BridgeProcess bridge(x.o.cli, x.bus.path(), outbound_config(x.o, "out-" + cursor, topic, cursor));
  TimedRun run = watch_depth(x, kOutQueue, [&] { bridge.check_alive(); }, bridge.pid());
  // Its cursor passes the last record once the last confirm came back (not timed).
  wait_until([&] {
    const TopicStats s = x.bus.stats(topic);
    const CursorStats* c = find_cursor(s, cursor);
    return c != nullptr && c->lag_records == 0;
  }, 60, "the bridge's cursor to reach the tail");
  bridge.stop();
  x.admin.purge(kOutQueue);
  return run;
}

TimedRun bare_outbound(Context& x, const std::string& topic, size_t bytes) {
  std::string error;
  double cpu = -1, sleeps = -1;
  std::thread publisher([&] {
    try {
      const double cpu0 = thread_cpu_s(), sleeps0 = thread_sleeps();
      x.client.publish_confirmed(kExchange, topic, x.o.messages, bytes, x.o.window);
      cpu = thread_cpu_s() - cpu0;
      sleeps = thread_sleeps() - sleeps0;
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  TimedRun run;
  try {
    run = watch_depth(x, kOutQueue, [] {});
  } catch (...) {
    publisher.join();
    throw;
  }
  publisher.join();
  if (!error.empty()) throw Error(error);
  run.cpu_s = cpu;  // the thread's whole run (the window is most of it)
  run.sleeps = sleeps;
  x.admin.purge(kOutQueue);
  return run;
}

std::string inbound_topic(size_t bytes) { return "bench.in." + std::to_string(bytes); }

void fill_queue(Context& x, size_t bytes) {
  x.admin.purge(kInQueue);
  x.client.publish_confirmed("", kInQueue, x.o.messages, bytes, x.o.window);
  wait_until([&] { return x.admin.depth(kInQueue) >= x.o.messages; }, 30, "the inbound queue to fill");
}

TimedRun bridge_inbound(Context& x, size_t bytes, const std::string& cli) {
  fill_queue(x, bytes);
  // One topic per size for the whole run (made and warmed before the first repetition): its
  // segments are created as a long-running bridge meets them, once per segment_bytes written,
  // not two fresh 64 MiB segments per repetition.
  const std::string topic = inbound_topic(bytes);
  ++x.run;
  const std::string config =
      write_config(x.o, "in-" + std::to_string(x.run),
                   "\n[[inbound]]\nname = \"in\"\nqueue = \"" + std::string(kInQueue) + "\"\ntopic = \"" + topic +
                       "\"\nprefetch = " + std::to_string(x.o.prefetch) + "\n");
  // Subscribed at the tail before the bridge starts: counts this run's records only.
  Subscription sub = x.bus.subscribe(topic, SubscribeOptions(StartAt::latest()));
  BridgeProcess bridge(cli, x.bus.path(), config);
  double cpu0 = -1, broker0 = -1, sleeps0 = -1;
  TimedRun run;
  run.total = x.o.messages;
  // Counted by a subscription polled every millisecond (no waiter: the bridge's publishes
  // wake nobody), from the first record committed to the N-th.
  uint64_t done = 0;
  const double until = now_s() + 300;
  for (;;) {
    const Result<size_t> got = sub.poll([](const Message&) {});
    if (got) done += *got;
    if (done > 0) {
      const double t = now_s();
      if (run.first_s == 0) {
        run.first_s = t;
        run.at_first = done;
        cpu0 = process_cpu_s(bridge.pid());
        broker0 = process_cpu_s(x.o.broker_pid);
        sleeps0 = process_sleeps(bridge.pid());
      }
      run.last_s = t;
      if (done >= x.o.messages) break;
    }
    bridge.check_alive();
    if (now_s() > until) throw Error("bridge bench: the inbound bridge did not commit every message within 300 s");
    std::this_thread::sleep_for(1ms);
  }
  if (cpu0 >= 0) run.cpu_s = process_cpu_s(bridge.pid()) - cpu0;
  if (broker0 >= 0) run.broker_s = process_cpu_s(x.o.broker_pid) - broker0;
  if (sleeps0 >= 0) run.sleeps = process_sleeps(bridge.pid()) - sleeps0;
  sub = Subscription();
  bridge.stop();  // acks what it committed, then exits
  return run;
}

TimedRun bare_inbound(Context& x, size_t bytes) {
  fill_queue(x, bytes);
  const double broker0 = process_cpu_s(x.o.broker_pid);
  TimedRun run = x.client.consume_acked(kInQueue, x.o.messages, x.o.prefetch);  // its CPU from its first delivery
  if (broker0 >= 0) run.broker_s = process_cpu_s(x.o.broker_pid) - broker0;
  return run;
}

// publish() of 64 B records into a journal topic, one every `latency_interval_us`, with or
// without a bridge draining the topic. Returns the call's latency distribution (ns).
Percentiles publish_latency(Context& x, bool with_bridge) {
  const std::string topic = "bench.lat." + std::to_string(x.run++);
  TopicConfig c;
  c.kind = TopicKind::kJournal;
  x.bus.create_topic(topic, c);
  Publisher p = x.bus.publisher(topic);
  std::unique_ptr<BridgeProcess> bridge;
  const std::string cursor = "lat";
  if (with_bridge) {
    bridge = std::make_unique<BridgeProcess>(x.o.cli, x.bus.path(), outbound_config(x.o, "lat-" + topic, topic, cursor));
    // Running: its cursor has passed a first record (so it is connected and reading).
    if (!p.publish(std::string(64, 'w'))) throw Error("bridge bench: publish failed");
    wait_until([&] {
      bridge->check_alive();
      const TopicStats s = x.bus.stats(topic);
      const CursorStats* cs = find_cursor(s, cursor);
      return cs != nullptr && cs->lag_records == 0;
    }, 60, "the latency bridge to connect");
  }
  std::string payload(64, 'x');
  std::vector<double> samples;
  samples.reserve(x.o.latency_messages);
  const BenchClock& clock = x.bench.clock;
  const double interval_ns = x.o.latency_interval_us * 1000;
  uint64_t next = clock.ticks();
  const uint64_t step = static_cast<uint64_t>(interval_ns / std::max(clock.to_ns(1000), 1e-9) * 1000);
  for (uint64_t i = 0; i < x.o.latency_messages; ++i) {
    while (clock.ticks() < next) {
    }
    next += step;
    const uint64_t t0 = clock.ticks();
    const Result<uint64_t> r = p.publish(payload);
    const uint64_t t1 = clock.ticks();
    if (!r) throw Error("bridge bench: publish failed: " + p.explain(r.error()));
    samples.push_back(clock.to_ns(t1 - t0));
  }
  if (bridge) {
    wait_until([&] {
      const TopicStats s = x.bus.stats(topic);
      const CursorStats* cs = find_cursor(s, cursor);
      return cs != nullptr && cs->lag_records == 0;
    }, 300, "the latency bridge to drain its topic");
    bridge->stop();
  }
  p = Publisher();
  x.bus.remove_topic(topic, true);
  x.admin.purge(kOutQueue);
  return summarize(samples);
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string join(const std::vector<double>& v, const char* f) {
  std::string s;
  for (double d : v) s += (s.empty() ? "" : ", ") + fmt(f, d);
  return s;
}

struct Pair {
  std::vector<double> ours, reference;                  // msg/s
  std::vector<double> ours_cpu, reference_cpu;          // our side's CPU us per message
  std::vector<double> ours_broker, reference_broker;    // the broker's CPU us per message
  std::vector<double> ours_sleeps, reference_sleeps;    // our side's sleeps per 1,000 messages
  void add(bool bridge, const TimedRun& r) {
    const double n = static_cast<double>(r.total);
    (bridge ? ours : reference).push_back(r.per_s());
    (bridge ? ours_cpu : reference_cpu).push_back(r.cpu_s >= 0 ? r.cpu_s / n * 1e6 : -1);
    (bridge ? ours_broker : reference_broker).push_back(r.broker_s >= 0 ? r.broker_s / n * 1e6 : -1);
    (bridge ? ours_sleeps : reference_sleeps).push_back(r.sleeps >= 0 ? r.sleeps / n * 1e3 : -1);
  }
};

int run(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--cli") o.cli = next();
    else if (a == "--amqp-url") o.url = next();
    else if (a == "--scratch") o.scratch = next();
    else if (a == "--repetitions") o.repetitions = std::stoi(next());
    else if (a == "--messages") o.messages = std::stoull(next());
    else if (a == "--window") o.window = static_cast<uint32_t>(std::stoul(next()));
    else if (a == "--prefetch") o.prefetch = static_cast<uint32_t>(std::stoul(next()));
    else if (a == "--latency-messages") o.latency_messages = std::stoull(next());
    else if (a == "--latency-interval-us") o.latency_interval_us = std::stod(next());
    else if (a == "--only") o.only = next();
    else if (a == "--broker-pid") o.broker_pid = std::stoi(next());
    else if (a == "--compare-cli") o.compare_cli = next();
    else if (a == "--retain-bytes") o.retain_bytes = std::stoull(next());
    else if (a == "--quick") { o.repetitions = 2; o.messages = 5000; o.latency_messages = 20000; }
    else {
      std::fprintf(stderr,
                   "usage: shmbus_bridge_bench --cli PATH/shmbus --amqp-url URL --scratch DIR [--repetitions 5]\n"
                   "  [--messages 50000] [--window 1024] [--prefetch 256] [--latency-messages 100000]\n"
                   "  [--latency-interval-us 10] [--only outbound|inbound|latency] [--broker-pid PID] [--quick]\n"
                   "  [--compare-cli PATH/shmbus (inbound: a second bridge build, paired with the same bare runs)]\n"
                   "  [--retain-bytes B (the inbound topics' retention: with it, retired segments are reused)]\n"
                   "tools/bridge_bench.sh builds it, starts a private RabbitMQ node and runs it.\n");
      return 2;
    }
  }
  if (o.cli.empty() || o.url.empty() || o.scratch.empty()) throw Error("--cli, --amqp-url and --scratch are required");
  ::mkdir(o.scratch.c_str(), 0755);
  Context x{o, Bus::open(o.scratch + "/bus"), BareAmqp(o.url), BareAmqp(o.url), {}, 0};
  x.bench.cpus = CpuPair::detect();
  x.bench.bus_root = o.scratch;
  x.admin.declare_exchange(kExchange, "topic");
  x.admin.declare_queue(kOutQueue);
  x.admin.bind(kOutQueue, kExchange, "bench.out.#");
  x.admin.declare_queue(kInQueue);
  x.admin.purge(kOutQueue);
  x.admin.purge(kInQueue);
  const bool outbound = o.only.empty() || o.only == "outbound";
  const bool inbound = o.only.empty() || o.only == "inbound";
  const bool latency = o.only.empty() || o.only == "latency";
  const std::vector<size_t> sizes{64, 1024};
  if (outbound) {
    for (size_t b : sizes) fill_topic(x.bus, "bench.out." + std::to_string(b), o.messages, b);
  }
  if (inbound) {
    for (size_t b : sizes) fill_topic(x.bus, inbound_topic(b), 1, b, o.retain_bytes);  // its first segments exist
  }
  std::vector<double> floor;
  std::map<size_t, Pair> out, in, in_cmp;
  std::vector<Percentiles> lat_with, lat_without;
  for (int rep = 0; rep < o.repetitions; ++rep) {
    floor.push_back(floor_pingpong(x.bench).p50);
    const bool ours_first = rep % 2 == 0;  // which side goes first alternates
    for (size_t b : sizes) {
      const std::string topic = "bench.out." + std::to_string(b);
      if (outbound) {
        if (ours_first) out[b].add(true, bridge_outbound(x, topic));
        out[b].add(false, bare_outbound(x, topic, b));
        if (!ours_first) out[b].add(true, bridge_outbound(x, topic));
      }
      if (inbound) {
        // With --compare-cli: ours, bare, the other CLI; or the other way round. Both bridges
        // are paired with the same bare run.
        const bool compare = !o.compare_cli.empty();
        if (ours_first) in[b].add(true, bridge_inbound(x, b, o.cli));
        if (!ours_first && compare) in_cmp[b].add(true, bridge_inbound(x, b, o.compare_cli));
        const TimedRun bare = bare_inbound(x, b);
        in[b].add(false, bare);
        if (compare) in_cmp[b].add(false, bare);
        if (ours_first && compare) in_cmp[b].add(true, bridge_inbound(x, b, o.compare_cli));
        if (!ours_first) in[b].add(true, bridge_inbound(x, b, o.cli));
      }
    }
    if (latency) {
      if (ours_first) lat_with.push_back(publish_latency(x, true));
      lat_without.push_back(publish_latency(x, false));
      if (!ours_first) lat_with.push_back(publish_latency(x, true));
    }
    std::fprintf(stderr, "repetition %d of %d done\n", rep + 1, o.repetitions);
  }
  x.admin.remove_queue(kOutQueue);
  x.admin.remove_queue(kInQueue);

  const Spread fl = spread_of(floor);
  std::printf("floor (cache-line ping-pong, one-way p50): median %.0f ns (%.0f-%.0f); %d repetitions, N = %llu, "
              "window %u, prefetch %u\n\n",
              fl.median, fl.min, fl.max, o.repetitions, static_cast<unsigned long long>(o.messages), o.window, o.prefetch);
  auto table = [&](const char* title, std::map<size_t, Pair>& m) {
    if (m.empty()) return;
    std::printf("| %s | bridge msg/s | bare rabbitmq-c msg/s | paired ratio bridge/bare (min-max) | target | CPU us/msg: bridge / bare | "
                "broker CPU us/msg: with bridge / with bare | sleeps per 1k msg: bridge / bare | per repetition msg/s: bridge; bare |\n",
                title);
    std::printf("|---|---:|---:|---|---|---|---|---|---|\n");
    for (auto& [b, p] : m) {
      std::vector<double> ratios;
      for (size_t i = 0; i < p.ours.size() && i < p.reference.size(); ++i) ratios.push_back(p.ours[i] / p.reference[i]);
      const Spread r = spread_of(ratios);
      std::printf("| %zu B | %.0f | %.0f | **%.2f** (%.2f-%.2f) | >= 0.90 %s | %.2f / %.2f | %.1f / %.1f | %.0f / %.0f | %s; %s |\n",
                  b, spread_of(p.ours).median, spread_of(p.reference).median, r.median, r.min, r.max,
                  r.median >= 0.9 ? "met" : "MISSED", spread_of(p.ours_cpu).median, spread_of(p.reference_cpu).median,
                  spread_of(p.ours_broker).median, spread_of(p.reference_broker).median, spread_of(p.ours_sleeps).median,
                  spread_of(p.reference_sleeps).median, join(p.ours, "%.0f").c_str(),
                  join(p.reference, "%.0f").c_str());
    }
    std::printf("\n");
  };
  table("outbound", out);
  table("inbound", in);
  if (!in_cmp.empty()) table(("inbound, --compare-cli " + o.compare_cli).c_str(), in_cmp);
  if (!lat_with.empty()) {
    auto med = [](std::vector<Percentiles>& v, double Percentiles::*f) {
      std::vector<double> d;
      for (auto& p : v) d.push_back(p.*f);
      return spread_of(d);
    };
    std::printf("| publish() 64 B into a journal topic, one per %.0f us | p50 ns | p99 ns | p99.9 ns | p99.99 ns |\n",
                o.latency_interval_us);
    std::printf("|---|---:|---:|---:|---:|\n");
    for (auto* v : {&lat_without, &lat_with}) {
      std::printf("| %s | %.0f | %.0f | %.0f | %.0f |\n", v == &lat_with ? "a bridge draining it" : "no bridge",
                  med(*v, &Percentiles::p50).median, med(*v, &Percentiles::p99).median, med(*v, &Percentiles::p999).median,
                  med(*v, &Percentiles::p9999).median);
    }
    std::vector<double> r50, r99;
    for (size_t i = 0; i < lat_with.size() && i < lat_without.size(); ++i) {
      r50.push_back(lat_with[i].p50 / lat_without[i].p50);
      r99.push_back(lat_with[i].p99 / lat_without[i].p99);
    }
    const Spread s50 = spread_of(r50), s99 = spread_of(r99);
    std::printf("\npaired with/without: p50 %.2f x (%.2f-%.2f), p99 %.2f x (%.2f-%.2f); target sub-us p50 and p99 with the "
                "bridge: %s\n",
                s50.median, s50.min, s50.max, s99.median, s99.min, s99.max,
                med(lat_with, &Percentiles::p50).median < 1000 && med(lat_with, &Percentiles::p99).median < 1000 ? "met"
                                                                                                                : "MISSED");
    std::printf("per repetition p50/p99 without: %s; with: %s\n", [&] {
      std::string s;
      for (auto& p : lat_without) s += fmt("%.0f/", p.p50) + fmt("%.0f ", p.p99);
      return s;
    }().c_str(), [&] {
      std::string s;
      for (auto& p : lat_with) s += fmt("%.0f/", p.p50) + fmt("%.0f ", p.p99);
      return s;
    }().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace shmbus::bench

int main(int argc, char** argv) {
  try {
    return shmbus::bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmbus_bridge_bench: %s\n", e.what());
    return 1;
  }
}
