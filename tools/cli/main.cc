// The shmbus command line: topic create, pub, sub, ls, stat, journal, cursor, bench.
#include <CLI/CLI.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench_command.h"
#include "cli_output.h"
#include "journal_command.h"
#include "shmbus/shmbus.h"

namespace {

using namespace std::chrono_literals;
volatile std::sig_atomic_t g_stop = 0;

std::vector<shmbus::Header> parse_headers(const std::vector<std::string>& specs, std::vector<std::string>& storage) {
  storage = specs;
  std::vector<shmbus::Header> headers;
  for (const std::string& s : storage) {
    size_t eq = s.find('=');
    if (eq == std::string::npos) throw shmbus::Error("--header takes key=value, got \"" + s + "\"");
    headers.push_back({std::string_view(s).substr(0, eq), std::string_view(s).substr(eq + 1)});
  }
  return headers;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shmbus: a lock-free shared-memory message bus"};
  app.require_subcommand(1);
  std::string bus_name = std::getenv("SHMBUS_BUS") ? std::getenv("SHMBUS_BUS") : "default";
  app.add_option("--bus", bus_name, "bus name (/dev/shm/shmbus/NAME) or directory path")->envname("SHMBUS_BUS");
  shmbus::BusOptions bus_options;
  app.add_option("--group", bus_options.group, "create the bus shared with this Unix group (0770), not private (0700)");

  auto* topic_cmd = app.add_subcommand("topic", "manage topics");
  topic_cmd->require_subcommand(1);
  auto* create = topic_cmd->add_subcommand("create", "create a topic (memory ring, or journal on disk)");
  std::string topic;
  uint64_t capacity = 8u << 20;
  std::string policy = "block";
  create->add_option("TOPIC", topic)->required();
  create->add_option("--capacity", capacity, "ring bytes (a power of two)");
  create->add_option("--policy", policy, "block | fail | overwrite");
  std::string kind = "memory";
  std::string data_dir;
  uint64_t segment_size = 64ull << 20;
  create->add_option("--kind", kind, "memory | journal")->check(CLI::IsMember({"memory", "journal"}));
  create->add_option("--dir", data_dir, "journal: directory of the segment files (default: inside the bus)");
  create->add_option("--segment-size", segment_size, "journal: bytes per segment file (a power of two)");
  std::string fsync = "never";
  create->add_option("--fsync", fsync, "journal: never | interval=MS | always");
  uint64_t retain_bytes = 0;
  double retain_age_s = 0;
  create->add_option("--retain-bytes", retain_bytes, "journal: keep at most this many bytes of segments (0: all)");
  create->add_option("--retain-age", retain_age_s, "journal: delete segments whose records are older (seconds; 0: never)")
      ->check(CLI::NonNegativeNumber);

  std::string from = "latest";
  uint64_t count = 0;
  bool json = false;
  auto* journal_cmd = app.add_subcommand("journal", "check, repair or print a journal topic");
  journal_cmd->require_subcommand(1);
  auto* verify = journal_cmd->add_subcommand("verify", "check every record; exit code 0 = healthy");
  verify->add_option("TOPIC", topic)->required();
  auto* recover = journal_cmd->add_subcommand("recover", "cut a torn tail, void abandoned claims (no publisher running)");
  recover->add_option("TOPIC", topic)->required();
  auto* dump = journal_cmd->add_subcommand("dump", "print the records from a start point up to the end");
  dump->add_option("TOPIC", topic)->required();
  dump->add_option("--from", from, "earliest | latest | POSITION | TIME (2026-11-25T17:00:00Z, @UNIX_SECONDS, -10m)")
      ->default_str("earliest");
  dump->add_flag("--json", json, "one JSON object per line");
  dump->add_option("--count", count, "stop after N records");

  auto* cursor_cmd = app.add_subcommand("cursor", "named cursors of a journal topic");
  cursor_cmd->require_subcommand(1);
  std::string cursor_name, where;
  auto* cursor_ls = cursor_cmd->add_subcommand("ls", "cursors, their positions and lag");
  cursor_ls->add_option("TOPIC", topic)->required();
  auto* cursor_set = cursor_cmd->add_subcommand("set", "move (or create) a cursor; no subscriber may hold it");
  cursor_set->add_option("TOPIC", topic)->required();
  cursor_set->add_option("NAME", cursor_name)->required();
  cursor_set->add_option("WHERE", where, "earliest | latest | POSITION | TIME")->required();
  auto* cursor_reset = cursor_cmd->add_subcommand("reset", "remove a cursor: its next subscriber starts by its --from");
  cursor_reset->add_option("TOPIC", topic)->required();
  cursor_reset->add_option("NAME", cursor_name)->required();

  auto* pub = app.add_subcommand("pub", "publish a message (or one per stdin line)");
  std::string message;
  bool have_message = false;
  std::vector<std::string> header_specs;
  pub->add_option("TOPIC", topic)->required();
  pub->add_option("MESSAGE", message)->each([&](const std::string&) { have_message = true; });
  pub->add_option("--header", header_specs, "key=value (repeatable)");

  auto* sub = app.add_subcommand("sub", "print messages of topics matching PATTERN");
  std::string pattern;
  double timeout_s = 0;
  std::string sub_cursor;
  sub->add_option("PATTERN", pattern)->required();
  sub->add_flag("--json", json, "one JSON object per line");
  sub->add_option("--from", from, "earliest | latest | POSITION | TIME (2026-11-25T17:00:00Z, @UNIX_SECONDS, -10m)");
  sub->add_option("--cursor", sub_cursor, "journal topic: resume from (and commit to) this named cursor; "
                  "--from then applies only when the cursor is new");
  sub->add_option("--count", count, "stop after N messages");
  sub->add_option("--timeout", timeout_s, "stop after this many seconds without a message");

  auto* ls = app.add_subcommand("ls", "list topics");
  auto* stat = app.add_subcommand("stat", "counters of a topic");
  stat->add_option("TOPIC", topic)->required();

  auto* bench = app.add_subcommand("bench", "measure this machine: floor, latency, throughput, fan-out (< 1 min)");
  int repetitions = 5;
  bench->add_option("--repetitions", repetitions, "interleaved repetitions; medians are reported")->check(CLI::Range(1, 100));
  bench->add_flag("--json", json, "one JSON object instead of markdown tables");
  std::string only;
  bench->add_option("--only", only, "run only measurements whose name contains this: floor-pingpong, floor-2lines-pingpong, spin-pingpong, "
                    "floor-memcpy, stream-64, stream-1024, fanout-idle-N, fanout-reading-N, journal-append-N, journal-stream-N, "
                    "journal-spin-pingpong, journal-always-N, block-pingpong, socket-pingpong");

  CLI11_PARSE(app, argc, argv);
  if (*bench) {
    try {
      return shmbus::cli::run_bench(repetitions, only, json);
    } catch (const std::exception& e) {
      std::cerr << "shmbus bench: " << e.what() << '\n';
      return 1;
    }
  }
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  try {
    shmbus::Bus bus = shmbus::Bus::open(bus_name, bus_options);
    if (*create) {
      shmbus::TopicConfig config;
      config.capacity = capacity;
      config.policy = shmbus::parse_policy(policy);
      config.kind = kind == "journal" ? shmbus::TopicKind::kJournal : shmbus::TopicKind::kMemory;
      config.data_dir = data_dir;
      config.segment_bytes = segment_size;
      shmbus::parse_fsync(fsync, config);
      config.retain_bytes = retain_bytes;
      config.retain_age = std::chrono::milliseconds(static_cast<int64_t>(retain_age_s * 1000));
      bool created = bus.create_topic(topic, config);
      std::cout << (created ? "created " : "exists ") << topic << '\n';
    } else if (*verify || *recover) {
      return shmbus::cli::run_journal(bus, topic, recover->parsed());
    } else if (*dump) {
      return shmbus::cli::run_dump(bus, topic, dump->count("--from") ? from : "earliest", count, json);
    } else if (*cursor_cmd) {
      const std::string action = *cursor_set ? "set" : *cursor_reset ? "reset" : "ls";
      return shmbus::cli::run_cursor(bus, action, topic, cursor_name, where);
    } else if (*pub) {
      std::vector<std::string> storage;
      std::vector<shmbus::Header> headers = parse_headers(header_specs, storage);
      shmbus::Publisher p = bus.publisher(topic);
      auto send = [&](const std::string& text) {
        shmbus::Result<uint64_t> r = p.publish(text, headers);
        if (!r) throw shmbus::Error("publish failed: " + p.explain(r.error()));
      };
      if (have_message) {
        send(message);
      } else {
        for (std::string line; !g_stop && std::getline(std::cin, line);) send(line);
      }
    } else if (*sub) {
      shmbus::SubscribeOptions options(shmbus::cli::parse_start(from));
      shmbus::PatternSubscriber patterned;
      shmbus::Subscriber named;
      if (sub_cursor.empty()) {
        patterned = bus.subscribe(pattern, options);
      } else {  // a cursor follows one topic
        if (pattern.find_first_of("*#") != std::string::npos) {
          throw shmbus::Error("--cursor follows one journal topic: give its name, not a pattern (\"" + pattern + "\")",
                              shmbus::ErrorKind::kInvalidArgument);
        }
        options.cursor = sub_cursor;
        named = bus.subscriber(pattern, options);
      }
      auto receive = [&](auto handler, size_t max) {
        return named ? named.receive(handler, max, 100ms) : patterned.receive(handler, max, 100ms);
      };
      uint64_t seen = 0;
      std::set<std::string> skipped;  // topics reported as unreadable, once each
      auto last = std::chrono::steady_clock::now();
      while (!g_stop && (count == 0 || seen < count)) {
        shmbus::Result<size_t> n =
            receive([&](const shmbus::Message& m) { shmbus::cli::print_message(m, json); ++seen; },
                    count == 0 ? SIZE_MAX : count - seen);
        if (!n) throw shmbus::Error(std::string("subscribe failed: ") + shmbus::to_string(n.error()));
        for (const shmbus::SkippedTopic& t : patterned.skipped_topics()) {  // empty for a named cursor
          if (skipped.insert(t.topic).second) std::cerr << "shmbus: skipping topic " << t.topic << ": " << t.error << '\n';
        }
        if (*n > 0) {
          std::cout.flush();
          last = std::chrono::steady_clock::now();
        } else if (timeout_s > 0 && std::chrono::steady_clock::now() - last > std::chrono::duration<double>(timeout_s)) {
          break;
        }
      }
    } else if (*ls) {
      std::vector<shmbus::TopicStats> before;
      for (const std::string& name : bus.topics()) before.push_back(bus.stats(name));
      std::this_thread::sleep_for(200ms);
      std::printf("%-40s %-7s %12s %-9s %16s %5s %5s %12s\n", "TOPIC", "KIND", "CAPACITY", "POLICY", "TAIL", "PUBS",
                  "SUBS", "MSG/S");
      for (const shmbus::TopicStats& b : before) {
        shmbus::TopicStats s = bus.stats(b.name);
        std::printf("%-40s %-7s %12llu %-9s %16llu %5u %5u %12.0f\n", s.name.c_str(), shmbus::to_string(s.kind),
                    static_cast<unsigned long long>(s.config.capacity), shmbus::to_string(s.config.policy),
                    static_cast<unsigned long long>(s.tail_position), s.publishers, s.subscribers,
                    static_cast<double>(s.published - b.published) / 0.2);
      }
    } else if (*stat) {
      shmbus::TopicStats s = bus.stats(topic);
      std::cout << "topic      " << s.name << "\nkind       " << shmbus::to_string(s.kind) << "\ncapacity   "
                << s.config.capacity << "\npolicy     " << shmbus::to_string(s.config.policy) << "\ntail       "
                << s.tail_position << "\npublished  " << s.published << "\nbytes      " << s.bytes
                << "\nlost       " << s.lost << "\nunblocked  " << s.unblocked << "\nevicted    " << s.evicted
                << "\npublishers " << s.publishers << "\nsubscribers " << s.subscribers << '\n';
      if (s.kind == shmbus::TopicKind::kJournal) {
        std::cout << "directory  " << s.config.data_dir << "\nsegment    " << s.config.segment_bytes
                  << "\nfsync      " << shmbus::to_string(s.config.fsync, s.config.fsync_interval)
                  << "\nflushed    " << s.flushed_position << " (" << s.flushes << " flushes, " << s.flushed_records
                  << " records)\n";
        if (s.config.retain_bytes != 0) std::cout << "retain     " << s.config.retain_bytes << " bytes\n";
        if (s.config.retain_age.count() != 0) std::cout << "retain age " << s.config.retain_age.count() / 1000.0 << " s\n";
        std::cout << "segments   " << s.segments << " (+" << s.spare_segments << " spare; " << s.disk_bytes
                  << " bytes on disk, " << s.deleted_segments
                  << " deleted by retention, " << s.skipped << " records skipped)\nfirst      " << s.first_position
                  << "\noldest     " << s.oldest_ns << "\nnewest     " << s.newest_ns << '\n';
        for (const shmbus::CursorStats& c : s.cursors) {
          std::cout << "cursor     " << c.name << " @" << c.position << " lag " << c.lag_records << " records, "
                    << c.lag_bytes << " bytes" << (c.in_use ? " (in use)" : "") << '\n';
        }
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "shmbus: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
