// shmbus_service_bench (issue 15, "Benchmarks"), each repetition interleaving ours and the
// reference, the floor first:
//   round trip  Client::call<Ping, Pong>(...), and Client::request<Ping, Pong>(...).get(),
//               against an Endpoint in another process that replies (both pinned, one per CPU), with the spin and the block wait
//               strategies, beside the raw bus ping-pong of the same strategy (bench/suite:
//               two memory topics, and the same over journal topics, which commands use).
//   throughput  an Endpoint with an empty handler draining M JSON commands of ~100 bytes
//               already in its queue, 1 and 4 handler threads, beside a raw queue Consumer
//               (receive + ack, no decoding) draining the same records of the same queue
//               settings; and, in this process, what the pipeline's steps cost one by one
//               (Envelope::read, the JSON decode and encode: SHMBUS_FIELDS' direct codec beside
//               nlohmann's DOM path for the same message).
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "measurements.h"
#include "percentiles.h"
#include "process_pair.h"
#include "scratch_bus.h"
#include "shmbus/error.h"
#include "shmbus/queue.h"
#include "shmbus/service/service.h"

namespace bench_msg {

struct Ping {
  int64_t seq = 0;
};
SHMBUS_FIELDS(Ping, seq)
struct Pong {
  int64_t seq = 0;
};
SHMBUS_FIELDS(Pong, seq)
// ~100 bytes of JSON: {"order":1234567,"customer":"customer-00042","sku":"SKU-778899",...}
struct PlaceOrder {
  int64_t order = 0;
  std::string customer;
  std::string sku;
  int quantity = 0;
  double amount = 0;
  std::string note;
};
SHMBUS_FIELDS(PlaceOrder, order, customer, sku, quantity, amount, note)

}  // namespace bench_msg

SHMBUS_MESSAGE(bench_msg::Ping, "BenchPing", 1, command);
SHMBUS_MESSAGE(bench_msg::Pong, "BenchPong", 1, reply);
SHMBUS_MESSAGE(bench_msg::PlaceOrder, "BenchPlaceOrder", 1, command);

namespace shmbus::bench {
namespace {

namespace svc = shmbus::service;
using namespace std::chrono_literals;

struct Options {
  std::string scratch;
  int repetitions = 5;
  size_t round_trips = 20000;
  uint64_t messages = 200000;
  std::string only;
  std::string waits = "spin,block";  // the round trips' wait strategies
  std::string forms = "call,future,polled,queue";  // the requester's ways of waiting (Waiting); queue: the raw queue beside
};

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

TopicConfig journal() {
  TopicConfig c;
  c.kind = TopicKind::kJournal;
  c.segment_bytes = 64ull << 20;
  return c;
}

const char* name_of(WaitStrategy w) { return w == WaitStrategy::kSpin ? "spin" : w == WaitStrategy::kYield ? "yield" : "block"; }

// How the requester waits: future::get() (the reply thread reads and hands the reply over);
// polling its future, yielding, with the reply thread yielding too (both share our CPU): what
// the futex hand-off costs; or Client::call (the requester reads its reply itself).
enum class Waiting { kFuture, kPolledFuture, kCall };

// Round trips timed whole and split where the peer starts to handle the request: it stamps the
// TSC (one clock across the two CPUs), so the request's way is that stamp minus the start.
struct SplitRoundTrips {
  // relaxed: read after the reply, which the peer publishes (release) after the stamp.
  SharedBlock<std::atomic<uint64_t>> handled_at;
  std::vector<double> whole, request_legs;

  void stamp(const BenchClock& clock) { handled_at->store(clock.ticks(), std::memory_order_relaxed); }
  void add(const BenchClock& clock, uint64_t t0, uint64_t t1) {
    whole.push_back(clock.to_ns(t1 - t0));
    request_legs.push_back(clock.to_ns(handled_at->load(std::memory_order_relaxed) - t0));
  }
  // The round trips' percentiles; `request_leg`, if given, gets the request legs' p50.
  Percentiles result(double* request_leg) {
    if (request_leg) *request_leg = summarize(request_legs).p50;
    return summarize(whole);
  }
};

// Round trips of a request against an echoing Endpoint in a forked process.
// Returned as round-trip percentiles (ns); `request_leg` as SplitRoundTrips::result.
Percentiles service_round_trip(BenchContext& ctx, WaitStrategy wait, size_t count, Waiting waiting = Waiting::kFuture,
                               double* request_leg = nullptr) {
  const bool poll_future = waiting == Waiting::kPolledFuture;
  ScratchBus scratch(ctx.fresh_bus_path());
  SharedBlock<std::atomic<int>> state;  // 1: the endpoint runs; 2: the parent is done
  SplitRoundTrips times;
  if (wait == WaitStrategy::kSpin && ctx.cpus.shared) wait = WaitStrategy::kYield;
  PeerProcess peer(ctx.cpus.peer, [&] {
    Bus bus = scratch.open_in_peer();
    svc::EndpointOptions o;
    o.journal = journal();
    o.wait = wait;
    svc::Endpoint echo(bus, "echo", o);
    echo.handle<bench_msg::Ping>([&](const bench_msg::Ping& p, svc::Context& c) {
      times.stamp(ctx.clock);
      c.reply(bench_msg::Pong{p.seq});
    });
    echo.start();
    state->store(1, std::memory_order_release);  // pairs with the parent's acquire below
    while (state->load(std::memory_order_acquire) != 2) std::this_thread::sleep_for(1ms);
    echo.stop();
    return 0;
  });
  if (!spin_until([&] { return state->load(std::memory_order_acquire) == 1; }, true, 30)) {
    throw Error("service bench: the echo endpoint did not start within 30 s");
  }
  {
    Pinned pin(ctx.cpus.ours);
    svc::ClientOptions co;
    co.source = "bench";
    co.journal = journal();
    co.reply_wait = poll_future ? WaitStrategy::kYield : wait;
    svc::Client client(scratch.bus(), co);
    // Long enough that the one-time work (segments mapped and the next one made ahead) is over.
    const size_t warmup = count / 2;
    times.whole.reserve(count);
    times.request_legs.reserve(count);
    for (size_t i = 0; i < warmup + count; ++i) {
      const uint64_t t0 = ctx.clock.ticks();
      bench_msg::Pong r;
      if (waiting == Waiting::kCall) {
        r = client.call<bench_msg::Ping, bench_msg::Pong>(bench_msg::Ping{static_cast<int64_t>(i)}, "echo", 10s).value();
      } else {
        std::future<bench_msg::Pong> f =
            client.request<bench_msg::Ping, bench_msg::Pong>(bench_msg::Ping{static_cast<int64_t>(i)}, "echo", 10s);
        if (poll_future) {
          while (f.wait_for(0s) != std::future_status::ready) std::this_thread::yield();
        }
        r = f.get();
      }
      const uint64_t t1 = ctx.clock.ticks();
      if (r.seq != static_cast<int64_t>(i)) throw Error("service bench: a reply to another request");
      if (i >= warmup) times.add(ctx.clock, t0, t1);
    }
  }
  state->store(2, std::memory_order_release);
  peer.join(60);
  return times.result(request_leg);
}

// The same round trip without the service layer: what the durable queue itself costs. The
// request is published to a journal topic bound to a queue, as a command is; a Consumer in the
// peer (prefetch 1, as an endpoint's) receives it, publishes the same bytes to a memory topic
// (as a reply topic is), and acks; we read the reply. No envelope, no JSON, no reply table.
Percentiles queue_round_trip(BenchContext& ctx, WaitStrategy wait, size_t count, double* request_leg = nullptr) {
  ScratchBus scratch(ctx.fresh_bus_path());
  SplitRoundTrips times;
  if (wait == WaitStrategy::kSpin && ctx.cpus.shared) wait = WaitStrategy::kYield;
  scratch.bus().create_topic("commands.echo", journal());
  scratch.bus().create_topic("replies.bench", TopicConfig{});
  QueueConfig qc;
  qc.bindings = {"commands.echo"};
  scratch.bus().create_queue("echo", qc);
  SharedBlock<std::atomic<int>> state;  // 1: the consumer runs; 2: the parent is done
  Subscription replies = scratch.bus().subscribe("replies.bench", {StartAt::latest(), wait});
  PeerProcess peer(ctx.cpus.peer, [&] {
    Bus bus = scratch.open_in_peer();
    Consumer c = bus.queue("echo").consumer({.prefetch = 1});
    Publisher out = bus.publisher("replies.bench");
    state->store(1, std::memory_order_release);  // pairs with the parent's acquire below
    while (state->load(std::memory_order_acquire) != 2) {
      Result<Delivery> d = wait == WaitStrategy::kBlock ? c.receive(10ms) : c.try_receive();
      if (!d) {
        if (wait == WaitStrategy::kYield) std::this_thread::yield();
        continue;
      }
      times.stamp(ctx.clock);
      if (!out.publish((*d)->payload)) return 1;
      if (!c.ack(*d)) return 2;
    }
    return 0;
  });
  if (!spin_until([&] { return state->load(std::memory_order_acquire) == 1; }, true, 30)) {
    throw Error("service bench: the queue echo did not start within 30 s");
  }
  {
    Pinned pin(ctx.cpus.ours);
    Publisher requests = scratch.bus().publisher("commands.echo");
    const size_t warmup = count / 2;
    times.whole.reserve(count);
    times.request_legs.reserve(count);
    std::array<std::byte, 16> out{};
    for (size_t i = 0; i < warmup + count; ++i) {
      std::memcpy(out.data(), &i, sizeof i);
      const uint64_t t0 = ctx.clock.ticks();
      if (!requests.publish(std::span<const std::byte>(out))) throw Error("service bench: a request was not published");
      Result<Sample> r = replies.receive(10s);
      const uint64_t t1 = ctx.clock.ticks();
      size_t seq = 0;
      if (!r || (*r)->payload.size() != out.size()) throw Error("service bench: the queue echo gave no reply");
      std::memcpy(&seq, (*r)->payload.data(), sizeof seq);
      if (seq != i) throw Error("service bench: a reply to another request");
      if (i >= warmup) times.add(ctx.clock, t0, t1);
    }
  }
  state->store(2, std::memory_order_release);
  peer.join(60);
  return times.result(request_leg);
}

bench_msg::PlaceOrder sample_order(int64_t i) {
  return {1000000 + i, "customer-00042", "SKU-778899", 3, 129.95, "ring twice"};
}

// An endpoint's queue holding `m` PlaceOrder commands (start/stop declares it; the Client sends).
void fill_endpoint_queue(Bus& bus, const std::string& name, uint64_t m) {
  svc::EndpointOptions o;
  o.journal = journal();
  svc::Endpoint e(bus, name, o);
  e.handle<bench_msg::PlaceOrder>([](const bench_msg::PlaceOrder&, svc::Context&) {});
  e.start();
  e.stop();
  svc::ClientOptions co;
  co.journal = journal();
  svc::Client client(bus, co);
  const bench_msg::PlaceOrder order = sample_order(0);
  for (uint64_t i = 0; i < m; ++i) client.send(order, name);
}

// The first and the m-th record handled, stamped by the thread that handled it: the rate
// leaves thread start-up out and needs no polling.
struct DrainClock {
  std::atomic<uint64_t> count{0};
  std::atomic<double> first{0}, last{0};
  uint64_t m = 0;
  void tick() noexcept {
    const uint64_t n = count.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n == 1) first.store(now_s(), std::memory_order_relaxed);
    if (n == m) last.store(now_s(), std::memory_order_relaxed);
  }
  double wait_rate() {
    const double until = now_s() + 300;
    while (last.load(std::memory_order_relaxed) == 0) {
      if (now_s() > until) throw Error("service bench: the drain did not finish within 300 s");
      std::this_thread::sleep_for(1ms);
    }
    return static_cast<double>(m - 1) / (last.load() - first.load());
  }
};

double endpoint_drain(BenchContext& ctx, uint64_t m, uint32_t threads) {
  ScratchBus scratch(ctx.fresh_bus_path());
  fill_endpoint_queue(scratch.bus(), "sink", m);
  svc::EndpointOptions o;
  o.journal = journal();
  o.concurrency = threads;
  svc::Endpoint e(scratch.bus(), "sink", o);
  DrainClock clock;
  clock.m = m;
  // The empty handler; the clock's tick is its only work (the raw consumer ticks alike).
  e.handle<bench_msg::PlaceOrder>([&](const bench_msg::PlaceOrder&, svc::Context&) { clock.tick(); });
  e.start();
  const double rate = clock.wait_rate();
  e.stop();
  return rate;
}

double consumer_drain(BenchContext& ctx, uint64_t m, uint32_t threads) {
  ScratchBus scratch(ctx.fresh_bus_path());
  fill_endpoint_queue(scratch.bus(), "sink", m);
  Queue q = scratch.bus().queue("sink");
  DrainClock clock;
  clock.m = m;
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (uint32_t i = 0; i < threads; ++i) {
    // As the endpoint's threads: a Consumer each, prefetch 1, receive, handle, ack.
    workers.emplace_back([&, c = q.consumer({.prefetch = 1})]() mutable {
      while (!stop.load(std::memory_order_relaxed)) {
        Result<Delivery> d = c.receive(20ms);
        if (!d) continue;
        clock.tick();
        (void)c.ack(*d);
      }
    });
  }
  const double rate = clock.wait_rate();
  stop.store(true);
  for (auto& t : workers) t.join();
  return rate;
}

// The pipeline's steps alone, in this process, on one record of the queue: ns per call.
struct StepCosts {
  double envelope_read = 0, json_decode = 0, json_bytes = 0, header_bytes = 0;
  double view_read = 0;  // EnvelopeView::read: in place, as the pipeline reads a delivery
  double envelope_start = 0, envelope_caused_by = 0, json_encode = 0;  // the sending side
  double dom_decode = 0, dom_encode = 0;  // the same message through nlohmann's DOM path
  double start_into = 0, caused_by_into = 0;  // the same into a reused Envelope (the request and reply paths)
  double empty_poll = 0;  // Consumer::try_receive with nothing ready: a spinning endpoint's loop, which bounds how soon it sees a request
};

StepCosts step_costs(BenchContext& ctx) {
  ScratchBus scratch(ctx.fresh_bus_path());
  fill_endpoint_queue(scratch.bus(), "steps", 1);
  Consumer c = scratch.bus().queue("steps").consumer();
  Result<Delivery> d = c.receive(5s);
  if (!d) throw Error("service bench: no record to time the steps on");
  const Message& m = d->message();
  StepCosts s;
  s.json_bytes = static_cast<double>(m.payload.size());
  s.header_bytes = static_cast<double>(m.headers.bytes().size());
  constexpr int kCalls = 200000;
  size_t sink = 0;
  Consumer idle = scratch.bus().queue("steps").consumer({.prefetch = 1});  // as an endpoint's
  uint64_t t0 = ctx.clock.ticks();
  for (int i = 0; i < kCalls; ++i) sink += idle.try_receive().has_value();
  uint64_t t1 = ctx.clock.ticks();
  s.empty_poll = ctx.clock.to_ns(t1 - t0) / kCalls;
  t0 = ctx.clock.ticks();
  svc::Envelope read_into;  // as the pipeline reads: over the last delivery's envelope
  for (int i = 0; i < kCalls; ++i) {
    svc::Envelope::read(m.headers, read_into);
    sink += read_into.message_id.size();
  }
  t1 = ctx.clock.ticks();
  s.envelope_read = ctx.clock.to_ns(t1 - t0) / kCalls;
  t0 = ctx.clock.ticks();
  for (int i = 0; i < kCalls; ++i) {
    const svc::EnvelopeView view = svc::EnvelopeView::read(m.headers);
    sink += view.message_id.size() + view.traceparent.size();
  }
  t1 = ctx.clock.ticks();
  s.view_read = ctx.clock.to_ns(t1 - t0) / kCalls;
  t0 = ctx.clock.ticks();
  for (int i = 0; i < kCalls; ++i) sink += static_cast<size_t>(svc::decode<bench_msg::PlaceOrder>(m.text()).quantity);
  t1 = ctx.clock.ticks();
  s.json_decode = ctx.clock.to_ns(t1 - t0) / kCalls;
  t0 = ctx.clock.ticks();
  for (int i = 0; i < kCalls; ++i) sink += static_cast<size_t>(svc::detail::decode_reusing<bench_msg::PlaceOrder>(m.text()).quantity);
  t1 = ctx.clock.ticks();
  s.dom_decode = ctx.clock.to_ns(t1 - t0) / kCalls;
  const svc::Envelope handled = svc::Envelope::read(m.headers);
  const svc::MessageType type = svc::message_type_of<bench_msg::PlaceOrder>();
  t0 = ctx.clock.ticks();
  for (int i = 0; i < kCalls; ++i) sink += svc::Envelope::start(type, "bench").message_id.size();
  t1 = ctx.clock.ticks();
  s.envelope_start = ctx.clock.to_ns(t1 - t0) / kCalls;
  t0 = ctx.clock.ticks();
  for (int i = 0; i < kCalls; ++i) sink += svc::Envelope::caused_by(handled, type, "bench").message_id.size();
  t1 = ctx.clock.ticks();
  s.envelope_caused_by = ctx.clock.to_ns(t1 - t0) / kCalls;
  svc::Envelope into;
  const auto wall = std::chrono::system_clock::now();  // a clock read per call is in the figures above
  t0 = ctx.clock.ticks();
  for (int i = 0; i < kCalls; ++i) {
    svc::Envelope::start(type, "bench", wall, into);
    sink += into.message_id.size();
  }
  t1 = ctx.clock.ticks();
  s.start_into = ctx.clock.to_ns(t1 - t0) / kCalls;
  t0 = ctx.clock.ticks();
  for (int i = 0; i < kCalls; ++i) {
    svc::Envelope::caused_by(handled, type, "bench", wall, into);
    sink += into.message_id.size();
  }
  t1 = ctx.clock.ticks();
  s.caused_by_into = ctx.clock.to_ns(t1 - t0) / kCalls;
  const bench_msg::PlaceOrder order = sample_order(1);
  t0 = ctx.clock.ticks();
  for (int i = 0; i < kCalls; ++i) sink += svc::encode(order).size();
  t1 = ctx.clock.ticks();
  s.json_encode = ctx.clock.to_ns(t1 - t0) / kCalls;
  t0 = ctx.clock.ticks();
  for (int i = 0; i < kCalls; ++i) sink += nlohmann::json(order).dump().size();
  t1 = ctx.clock.ticks();
  s.dom_encode = ctx.clock.to_ns(t1 - t0) / kCalls;
  asm volatile("" : : "r"(sink));
  (void)c.ack(*d);
  return s;
}

int run(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--scratch") o.scratch = next();
    else if (a == "--repetitions") o.repetitions = std::stoi(next());
    else if (a == "--round-trips") o.round_trips = std::stoul(next());
    else if (a == "--messages") o.messages = std::stoull(next());
    else if (a == "--only") o.only = next();
    else if (a == "--waits") o.waits = next();
    else if (a == "--forms") o.forms = next();
    else if (a == "--quick") { o.repetitions = 2; o.round_trips = 2000; o.messages = 20000; }
    else {
      std::fprintf(stderr,
                   "usage: shmbus_service_bench [--scratch DIR] [--repetitions 5] [--round-trips 20000]\n"
                   "  [--messages 200000] [--only round-trip|throughput|steps] [--waits spin,block]\n"
                   "  [--forms call,future,polled,queue] [--quick]\n");
      return 2;
    }
  }
  if (o.scratch.empty()) o.scratch = "/dev/shm/shmbus-sbench-" + std::to_string(::getpid());
  ::mkdir(o.scratch.c_str(), 0755);
  BenchContext ctx;
  ctx.cpus = CpuPair::detect();
  ctx.bus_root = o.scratch;
  ctx.round_trips = o.round_trips * 10;
  ctx.blocking_round_trips = o.round_trips;
  const bool rt = o.only.empty() || o.only == "round-trip";
  const bool tp = o.only.empty() || o.only == "throughput";
  const bool st = o.only.empty() || o.only == "steps";
  std::vector<WaitStrategy> waits;
  if (o.waits.find("spin") != std::string::npos) waits.push_back(WaitStrategy::kSpin);
  if (o.waits.find("block") != std::string::npos) waits.push_back(WaitStrategy::kBlock);
  const bool with_call = o.forms.find("call") != std::string::npos;
  const bool with_future = o.forms.find("future") != std::string::npos;
  const bool with_polled = o.forms.find("polled") != std::string::npos;
  const bool with_queue = o.forms.find("queue") != std::string::npos;
  const uint32_t thread_counts[] = {1, 4};
  std::vector<double> floor;
  std::map<WaitStrategy, std::vector<Percentiles>> service, called, raw, raw_journal, raw_queue;
  std::map<WaitStrategy, std::vector<double>> called_leg, raw_queue_leg;  // request legs' p50 (ns)
  std::vector<Percentiles> service_polled;  // spin, the requester polling its future
  std::map<uint32_t, std::vector<double>> endpoint, consumer;
  std::vector<StepCosts> steps;
  for (int rep = 0; rep < o.repetitions; ++rep) {
    floor.push_back(floor_pingpong(ctx).p50);
    const bool ours_first = rep % 2 == 0;
    if (rt) {
      for (WaitStrategy w : waits) {
        const auto ours = [&] {
          if (with_call) {
            double leg = 0;
            called[w].push_back(service_round_trip(ctx, w, o.round_trips, Waiting::kCall, &leg));
            called_leg[w].push_back(leg);
          }
          if (with_future) service[w].push_back(service_round_trip(ctx, w, o.round_trips));
        };
        if (ours_first) ours();
        raw[w].push_back(shmbus_pingpong(ctx, w));
        raw_journal[w].push_back(shmbus_pingpong(ctx, w, true));
        if (with_queue) {
          double leg = 0;
          raw_queue[w].push_back(queue_round_trip(ctx, w, o.round_trips, &leg));
          raw_queue_leg[w].push_back(leg);
        }
        if (!ours_first) ours();
        if (w == WaitStrategy::kSpin && with_polled) {
          service_polled.push_back(service_round_trip(ctx, w, o.round_trips, Waiting::kPolledFuture));
        }
      }
    }
    if (tp) {
      for (uint32_t t : thread_counts) {
        if (ours_first) endpoint[t].push_back(endpoint_drain(ctx, o.messages, t));
        consumer[t].push_back(consumer_drain(ctx, o.messages, t));
        if (!ours_first) endpoint[t].push_back(endpoint_drain(ctx, o.messages, t));
      }
    }
    if (st) steps.push_back(step_costs(ctx));
    std::fprintf(stderr, "repetition %d of %d done\n", rep + 1, o.repetitions);
  }
  std::error_code ignored;
  std::filesystem::remove_all(o.scratch, ignored);

  const Spread fl = spread_of(floor);
  std::printf("floor (cache-line ping-pong, one-way p50): median %.0f ns (%.0f-%.0f), round trip %.0f ns; %d repetitions\n\n",
              fl.median, fl.min, fl.max, 2 * fl.median, o.repetitions);
  auto pick = [](const std::vector<Percentiles>& v, double Percentiles::*f, double scale) {
    std::vector<double> d;
    for (const Percentiles& p : v) d.push_back(p.*f * scale);
    return spread_of(d);
  };
  if (rt) {
    std::printf("| round trip, ns (medians of %d) | p50 | p99 | raw memory ping-pong p50 / p99 | raw journal ping-pong p50 / p99 | "
                "paired p50 service / raw memory (min-max) | target <= 3 x |\n|---|---:|---:|---|---|---|---|\n",
                o.repetitions);
    for (auto* rows : {&called, &service}) {
      for (WaitStrategy w : waits) {
        // shmbus_pingpong reports one-way (RTT / 2): doubled to round trips.
        const std::vector<Percentiles>& ours = (*rows)[w];
        if (ours.empty()) continue;
        std::vector<double> ratios;
        for (size_t i = 0; i < ours.size(); ++i) ratios.push_back(ours[i].p50 / (2 * raw[w][i].p50));
        const Spread r = spread_of(ratios);
        std::printf("| %s, %s | %.0f | %.0f | %.0f / %.0f | %.0f / %.0f | **%.1f x** (%.1f-%.1f) | %s |\n", name_of(w),
                    rows == &called ? "call()" : "request().get()", pick(ours, &Percentiles::p50, 1).median,
                    pick(ours, &Percentiles::p99, 1).median, pick(raw[w], &Percentiles::p50, 2).median,
                    pick(raw[w], &Percentiles::p99, 2).median, pick(raw_journal[w], &Percentiles::p50, 2).median,
                    pick(raw_journal[w], &Percentiles::p99, 2).median, r.median, r.min, r.max,
                    r.median <= 3 ? "met" : "MISSED");
      }
    }
    if (!service_polled.empty()) {
      std::vector<double> ratios;
      for (size_t i = 0; i < service_polled.size(); ++i) ratios.push_back(service_polled[i].p50 / (2 * raw[WaitStrategy::kSpin][i].p50));
      const Spread r = spread_of(ratios);
      std::printf("| spin, requester yielding on its future (no futex hand-off) | %.0f | %.0f | | | %.1f x (%.1f-%.1f) | |\n",
                  pick(service_polled, &Percentiles::p50, 1).median, pick(service_polled, &Percentiles::p99, 1).median,
                  r.median, r.min, r.max);
    }
    for (WaitStrategy w : waits) {
      const std::vector<Percentiles>& q = raw_queue[w];
      if (q.empty()) continue;
      std::vector<double> over_raw, call_over_queue;
      for (size_t i = 0; i < q.size(); ++i) {
        over_raw.push_back(q[i].p50 / (2 * raw[w][i].p50));
        if (!called[w].empty()) call_over_queue.push_back(called[w][i].p50 / q[i].p50);
      }
      const Spread r = spread_of(over_raw);
      const Spread c = call_over_queue.empty() ? Spread{} : spread_of(call_over_queue);
      std::printf("| %s, raw queue (Consumer receive, publish, ack; no service layer) | %.0f | %.0f | | | %.1f x (%.1f-%.1f); "
                  "call() / raw queue %.2f (%.2f-%.2f) | |\n",
                  name_of(w), pick(q, &Percentiles::p50, 1).median, pick(q, &Percentiles::p99, 1).median, r.median, r.min,
                  r.max, c.median, c.min, c.max);
    }
    // Where the round trip goes: the request's way (call to handler) and the reply's (the rest).
    std::printf("\nrequest leg p50 (call start -> handler entry) / reply leg (the rest), medians, ns:");
    for (WaitStrategy w : waits) {
      if (!called_leg[w].empty()) {
        const double leg = spread_of(called_leg[w]).median;
        std::printf(" %s call() %.0f / %.0f;", name_of(w), leg, pick(called[w], &Percentiles::p50, 1).median - leg);
      }
      if (!raw_queue_leg[w].empty()) {
        const double leg = spread_of(raw_queue_leg[w]).median;
        std::printf(" %s raw queue %.0f / %.0f;", name_of(w), leg, pick(raw_queue[w], &Percentiles::p50, 1).median - leg);
      }
    }
    std::printf("\n");
    std::printf("\nper repetition, service p50 (call(), request().get()) / raw memory ping-pong round trip p50, ns:");
    for (WaitStrategy w : waits) {
      std::printf(" %s", name_of(w));
      for (size_t i = 0; i < raw[w].size(); ++i) {
        std::printf(" %.0f,%.0f/%.0f", called[w].empty() ? 0.0 : called[w][i].p50,
                    service[w].empty() ? 0.0 : service[w][i].p50, 2 * raw[w][i].p50);
      }
      std::printf(";");
    }
    std::printf("\n\n");
  }
  if (tp) {
    std::printf("| drain of %llu queued commands | endpoint msg/s | per thread | raw Consumer msg/s | endpoint / raw (paired) | "
                "pipeline ns/msg over raw | target >= 1 M msg/s per thread |\n|---|---:|---:|---:|---|---:|---|\n",
                static_cast<unsigned long long>(o.messages));
    for (uint32_t t : thread_counts) {
      std::vector<double> ratios, extra;
      for (size_t i = 0; i < endpoint[t].size(); ++i) {
        ratios.push_back(endpoint[t][i] / consumer[t][i]);
        extra.push_back(1e9 / endpoint[t][i] - 1e9 / consumer[t][i]);
      }
      const double e = spread_of(endpoint[t]).median;
      const Spread r = spread_of(ratios), x = spread_of(extra);
      std::printf("| %u handler thread%s | %.0f | %.0f | %.0f | %.2f (%.2f-%.2f) | %.0f (%.0f-%.0f) | %s |\n", t,
                  t == 1 ? "" : "s", e, e / t, spread_of(consumer[t]).median, r.median, r.min, r.max, x.median, x.min, x.max,
                  e / t >= 1e6 ? "met" : "MISSED");
    }
    std::printf("\n(ns/msg over raw: 1/endpoint rate - 1/raw rate, wall time per message of the whole drain; with %u\n"
                "threads on %s CPUs the per-thread figure is bounded by the CPUs, not the threads.)\n\n",
                thread_counts[1], ctx.cpus.shared ? "1" : "2");
  }
  if (st && !steps.empty()) {
    auto med = [&](double StepCosts::*f) {
      std::vector<double> v;
      for (auto& s : steps) v.push_back(s.*f);
      return spread_of(v).median;
    };
    std::printf("pipeline steps alone (this process, one record, ns per call, medians): receiving: EnvelopeView::read (in place, the "
                "pipeline's) %.0f, Envelope::read (copies, into a reused one) %.0f (%.0f header bytes), decode<PlaceOrder> %.0f (%.0f JSON bytes); sending: Envelope::start %.0f, "
                "Envelope::caused_by %.0f, encode<PlaceOrder> %.0f; into a reused Envelope (given the time): start %.0f, "
                "caused_by %.0f; waiting: an empty Consumer::try_receive %.0f\n",
                med(&StepCosts::view_read), med(&StepCosts::envelope_read), steps[0].header_bytes, med(&StepCosts::json_decode), steps[0].json_bytes,
                med(&StepCosts::envelope_start), med(&StepCosts::envelope_caused_by), med(&StepCosts::json_encode),
                med(&StepCosts::start_into), med(&StepCosts::caused_by_into), med(&StepCosts::empty_poll));
    std::vector<double> decode_ratio, encode_ratio;
    for (auto& s : steps) {
      decode_ratio.push_back(s.json_decode / s.dom_decode);
      encode_ratio.push_back(s.json_encode / s.dom_encode);
    }
    const Spread dr = spread_of(decode_ratio), er = spread_of(encode_ratio);
    std::printf("the same message through nlohmann's DOM path (reused document; to_json + dump): decode %.0f ns, encode %.0f ns; "
                "direct / DOM, paired: decode %.2f (%.2f-%.2f), encode %.2f (%.2f-%.2f)\n",
                med(&StepCosts::dom_decode), med(&StepCosts::dom_encode), dr.median, dr.min, dr.max, er.median, er.min, er.max);
  }
  return 0;
}

}  // namespace
}  // namespace shmbus::bench

int main(int argc, char** argv) {
  try {
    return shmbus::bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmbus_service_bench: %s\n", e.what());
    return 1;
  }
}
