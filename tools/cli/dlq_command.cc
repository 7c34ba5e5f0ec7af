// `shmbus dlq ls | show | replay | purge QUEUE`: the dead letters of a queue, i.e. the records
// of the journal topic <queue>.dlq after its named cursor kDeadLetterCursor ("handled"; all of
// them while it has none). `replay` republishes each to its x-original-topic and moves the
// cursor past it (a replay selected by --id / --reason moves it only over a run of replayed
// records: the others stay unhandled); `purge` moves the cursor to the end. Records are never deleted here: the
// topic's retention does that, and `shmbus sub QUEUE.dlq --from earliest` still reads them.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "cli_output.h"
#include "command.h"

namespace shmbus::cli {
namespace {

using namespace std::chrono_literals;

struct DlqOptions {
  std::string queue;
  uint64_t count = 0;  // 0: all
  std::string id;      // only the dead letter(s) with this message-id
  std::string reason;  // only those with this x-death-reason
  bool json = false;
  bool selects() const { return !id.empty() || !reason.empty(); }
  bool selected(const Message& m) const {
    return (id.empty() || m.headers.find(header_keys::kMessageId) == id) &&
           (reason.empty() || m.headers.find("x-death-reason") == reason);
  }
};

// What replay takes away: the death of this queue's copy. It keeps message-id (the consumer's
// inbox still knows the message), x-death-count and x-first-death-time (a second death counts
// on from them, dead_letter.cc), and every header the publisher set.
bool dropped_on_replay(std::string_view key) {
  return key == "x-death-reason" || key == "x-death-error" || key == "x-death-queue" || key == "x-original-topic" ||
         key == "x-original-position" || key == "x-delivery-count" || key == "x-last-death-time";
}

// Where the unhandled dead letters start: the cursor's position, or the first record.
StartAt unhandled_start(const TopicStats& s) {
  for (const CursorStats& c : s.cursors) {
    if (c.name == kDeadLetterCursor) return StartAt::at(c.position);
  }
  return StartAt::earliest();
}

// Hands each unhandled dead letter that --id / --reason select (up to `count` of them) to
// `visit`, which returns false to stop; `passed` (if given) sees the others. Reads up to the tail
// as it was when called. `cursor`: read through the named cursor (replay commits it); otherwise
// from where it stands, without holding it.
void for_each_dead_letter(Bus& bus, const DlqOptions& o, bool cursor, const std::function<bool(const Message&)>& visit,
                          Subscription* held = nullptr, const std::function<void(const Message&)>& passed = {}) {
  const std::string topic = dead_letter_topic(o.queue);
  bus.queue(o.queue);  // an unknown queue is an error, not an empty list
  if (!bus.topic_exists(topic)) return;  // nothing was ever dead-lettered
  const TopicStats s = journal_stats(bus, topic);
  SubscribeOptions options(cursor ? StartAt::earliest() : unhandled_start(s));
  if (cursor) {
    options.cursor = std::string(kDeadLetterCursor);
    options.commit = CommitMode::kManual;
  }
  Subscription own;
  Subscription& sub = held != nullptr ? *held : own;
  sub = bus.subscribe(topic, options);
  uint64_t seen = 0;
  // The tail is known: a few empty waits in a row mean what is left is not readable (a claim
  // that never committed), not that more is coming.
  for (int idle = 0; sub.position() < s.tail_position && idle < 10 && (o.count == 0 || seen < o.count);) {
    Result<Sample> got = sub.receive(100ms);
    if (!got) {
      if (got.error() != Errc::kTimeout) throw Error("reading " + topic + " failed: " + to_string(got.error()));
      ++idle;
      continue;
    }
    idle = 0;
    if (!o.selected(got->message())) {
      if (passed) passed(got->message());
      continue;
    }
    ++seen;
    if (!visit(got->message())) return;
  }
}

std::string header(const Message& m, std::string_view key) { return std::string(m.headers.find(key).value_or("")); }

int run_ls(const Context& ctx, const DlqOptions& o) {
  struct Group {
    uint64_t count = 0;
    int64_t first_ns = INT64_MAX, last_ns = 0;
    std::set<std::string> topics;
  };
  std::map<std::pair<std::string, std::string>, Group> groups;  // by reason, error text
  Bus bus = ctx.open_bus();
  for_each_dead_letter(bus, o, false, [&](const Message& m) {
    Group& g = groups[{header(m, "x-death-reason"), header(m, "x-death-error")}];
    ++g.count;
    g.first_ns = std::min(g.first_ns, m.timestamp_ns);
    g.last_ns = std::max(g.last_ns, m.timestamp_ns);
    g.topics.insert(header(m, "x-original-topic"));
    return true;
  });
  if (!o.json) std::printf("%7s  %-15s %-24s  %s\n", "COUNT", "REASON", "LAST", "ERROR");
  for (const auto& [key, g] : groups) {
    if (o.json) {
      std::cout << JsonObject()
                       .add("reason", key.first)
                       .add("error", key.second)
                       .add("count", g.count)
                       .add("first_ns", g.first_ns)
                       .add("last_ns", g.last_ns)
                       .add_raw("topics", json_array({g.topics.begin(), g.topics.end()}))
                       .str()
                << '\n';
    } else {
      std::string error = key.second.substr(0, key.second.find('\n'));
      if (error.size() > 70) error = error.substr(0, 67) + "...";
      std::printf("%7llu  %-15s %-24s  %s\n", static_cast<unsigned long long>(g.count), key.first.c_str(),
                  utc(g.last_ns).c_str(), error.empty() ? "-" : error.c_str());
    }
  }
  std::fflush(stdout);
  return 0;
}

int run_show(const Context& ctx, const DlqOptions& o) {
  Bus bus = ctx.open_bus();
  for_each_dead_letter(bus, o, false, [&](const Message& m) {
    print_message(m, o.json);
    return true;
  });
  std::cout.flush();
  return 0;
}

int run_replay(const Context& ctx, const DlqOptions& o) {
  Bus bus = ctx.open_bus();
  std::map<std::string, Publisher> publishers;
  Subscription sub;
  uint64_t replayed = 0;
  // The cursor marks everything before it handled: it moves past a replayed record only while
  // no record was passed over (a selective replay leaves the others for later).
  bool all_handled_so_far = true;
  for_each_dead_letter(bus, o, true, [&](const Message& m) {
    const std::optional<std::string_view> original = m.headers.find("x-original-topic");
    if (!original) {
      throw Error(std::string(m.topic) + " @" + std::to_string(m.position) +
                  " has no x-original-topic header: not a dead letter; skip it with shmbus dlq purge or "
                  "shmbus cursor set " + std::string(m.topic) + " " + std::string(kDeadLetterCursor) + " POSITION");
    }
    const std::string topic(*original);
    auto it = publishers.find(topic);
    if (it == publishers.end()) {
      // Not created here: a new topic would be a memory topic of the bus defaults, bound to nothing.
      if (!bus.topic_exists(topic)) {
        throw Error("the original topic " + topic + " of " + std::string(m.topic) + " @" + std::to_string(m.position) +
                        " no longer exists; create it (shmbus topic create " + topic +
                        " --kind journal) and replay again",
                    ErrorKind::kNotFound);
      }
      it = publishers.emplace(topic, bus.publisher(topic)).first;
    }
    std::vector<Header> headers;
    for (Header h : m.headers) {
      if (!dropped_on_replay(h.key) && h.key != header_keys::kReplayed && h.key != header_keys::kReplayQueue) {
        headers.push_back(h);
      }
    }
    // For this queue only (others on the topic pass it over), and past its dedup window.
    headers.push_back({header_keys::kReplayed, "1"});
    headers.push_back({header_keys::kReplayQueue, o.queue});
    Result<uint64_t> put = it->second.publish(m.payload, headers);
    if (!put && put.error() != Errc::kNotDurable) throw Error("replay to " + topic + " failed: " + it->second.explain(put.error()));
    // Published first, the cursor moved second: a crash in between replays it once more, with
    // the same message-id (never loses it).
    if (all_handled_so_far) {
      Result<void> committed = sub.commit();
      if (!committed) throw Error(std::string("cannot move the handled cursor: ") + to_string(committed.error()));
    }
    ++replayed;
    return true;
  }, &sub, [&](const Message&) { all_handled_so_far = false; });
  const uint64_t left = bus.queue(o.queue).stats().dlq_depth;
  if (o.json) std::cout << JsonObject().add("queue", o.queue).add("replayed", replayed).add("left", left).str() << '\n';
  else std::cout << "replayed " << replayed << " dead letters of " << o.queue << " (" << left << " left)\n";
  return 0;
}

int run_purge(const Context& ctx, const DlqOptions& o) {
  Bus bus = ctx.open_bus();
  Queue queue = bus.queue(o.queue);
  const uint64_t before = queue.stats().dlq_depth;
  const std::string topic = dead_letter_topic(o.queue);
  if (bus.topic_exists(topic)) bus.set_cursor(topic, kDeadLetterCursor, StartAt::latest());
  if (o.json) std::cout << JsonObject().add("queue", o.queue).add("purged", before).str() << '\n';
  else std::cout << "purged " << before << " dead letters of " << o.queue << '\n';
  return 0;
}

}  // namespace

void add_dlq_command(CLI::App& app, Context& ctx) {
  CLI::App* dlq = app.add_subcommand("dlq", "a queue's dead letters (QUEUE.dlq): list, show, replay, purge");
  dlq->require_subcommand(1);
  auto o = std::make_shared<DlqOptions>();
  struct Verb {
    const char* name;
    const char* help;
    int (*run)(const Context&, const DlqOptions&);
    bool counted;
  };
  for (const Verb& v : {Verb{"ls", "dead letters grouped by reason and error text", run_ls, false},
                        Verb{"show", "the dead letters with their headers (x-death-reason, x-death-error, ...)", run_show, true},
                        Verb{"replay", "republish them to their original topics (same message-id) and mark them handled",
                             run_replay, true},
                        Verb{"purge", "mark every dead letter handled (the records stay until retention)", run_purge, false}}) {
    CLI::App* sub = dlq->add_subcommand(v.name, v.help);
    sub->add_option("QUEUE", o->queue)->required();
    if (v.counted) {
      sub->add_option("--count", o->count, "at most N, oldest first");
      if (std::string(v.name) == "show") sub->add_option("ID", o->id, "only the dead letter(s) with this message-id");
      sub->add_option("--id", o->id, "only the dead letter(s) with this message-id");
      sub->add_option("--reason", o->reason, "only those dead-lettered for this reason (rejected, delivery_limit, expired)");
    }
    add_json_flag(*sub, o->json);
    auto run = v.run;
    sub->callback([&ctx, o, run] { ctx.run = [&ctx, o, run] { return run(ctx, *o); }; });
  }
}

}  // namespace shmbus::cli
