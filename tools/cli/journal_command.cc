// `shmbus journal verify|recover|dump TOPIC`: check, repair or print a journal topic.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <memory>

#include "cli_output.h"
#include "command.h"
#include "shmbus/journal.h"
#include "stop_signal.h"

namespace shmbus::cli {
namespace {

struct JournalOptions {
  std::string topic;
  std::string from = "earliest";
  uint64_t count = 0;
  bool json = false;
};

void print_report_text(const std::string& topic, const std::string& dir, const JournalReport& r, bool repair) {
  std::printf("journal    %s\ndirectory  %s\nsegments   %zu\nrecords    %llu\nvoided     %llu\n"
              "abandoned  %llu%s\npositions  %llu .. %llu\nnext seq   %llu\ncut bytes  %llu%s\n",
              topic.c_str(), dir.c_str(), r.segments, static_cast<unsigned long long>(r.records),
              static_cast<unsigned long long>(r.voided), static_cast<unsigned long long>(r.abandoned),
              repair && r.abandoned ? " (voided now)" : "", static_cast<unsigned long long>(r.first_position),
              static_cast<unsigned long long>(r.end_position), static_cast<unsigned long long>(r.next_seq),
              static_cast<unsigned long long>(r.cut_bytes), repair && r.cut_bytes ? " (zeroed now)" : "");
  for (const std::string& p : r.problems) std::printf("problem    %s\n", p.c_str());
  for (const std::string& m : r.moved_aside) std::printf("moved      %s\n", m.c_str());
}

JsonObject report_json(const std::string& topic, const std::string& dir, const JournalReport& r) {
  JsonObject out;
  out.add("journal", topic).add("directory", dir).add("segments", r.segments).add("records", r.records);
  out.add("voided", r.voided).add("abandoned", r.abandoned).add("first_position", r.first_position);
  out.add("end_position", r.end_position).add("next_seq", r.next_seq).add("cut_bytes", r.cut_bytes);
  out.add_raw("problems", json_array(r.problems)).add_raw("moved_aside", json_array(r.moved_aside));
  return out;
}

// Prints the report; returns the exit code: 0 healthy (verify) or repaired (recover), 1 if not.
int run_check(const Context& ctx, const JournalOptions& o, bool repair) {
  Bus bus = ctx.open_bus();
  const TopicStats stats = journal_stats(bus, o.topic);
  const std::string& dir = stats.config.data_dir;
  JournalReport r;
  {
    ProgressBar bar("segments");
    r = check_journal(dir, repair, [&](size_t done, size_t total) { bar.update(done, total); });
  }
  const bool healthy = repair ? check_journal(dir, false).healthy() : r.healthy();
  if (o.json) {
    JsonObject out = report_json(o.topic, dir, r);
    out.add(repair ? "recovered" : "healthy", healthy);
    std::cout << out.str() << '\n';
  } else {
    print_report_text(o.topic, dir, r, repair);
    if (repair) {
      std::printf("%s\n", healthy ? "recovered: healthy" : "NOT recovered (see the problems above)");
    } else {
      std::printf("%s\n", healthy ? "healthy" : "NOT healthy: run `shmbus journal recover` with no publisher running");
    }
  }
  return healthy ? 0 : 1;
}

// Prints the records from --from up to the tail as it was when the dump began (at most --count
// if non-zero), then stops; a stop signal ends it between batches.
int run_dump(const Context& ctx, const JournalOptions& o) {
  catch_stop_signals();
  Bus bus = ctx.open_bus();
  const TopicStats stats = journal_stats(bus, o.topic);
  Subscription sub = bus.subscribe(o.topic, SubscribeOptions(parse_start(o.from)));
  const uint64_t start = sub.position(), end = stats.tail_position;
  ProgressBar bar("bytes", /*beside_stdout=*/true);
  uint64_t printed = 0;
  while (!stop_requested() && sub.position() < end && (o.count == 0 || printed < o.count)) {
    Result<size_t> n = sub.poll([&](const Message& m) { print_message(m, o.json); }, o.count == 0 ? 4096 : o.count - printed);
    if (!n) throw Error(std::string("reading the journal failed: ") + to_string(n.error()));
    if (*n == 0) break;  // caught up (records being written at the end are not waited for)
    printed += *n;
    bar.update(sub.position() - start, end > start ? end - start : 1);
  }
  std::cout.flush();
  return stop_exit_code();
}

}  // namespace

void add_journal_command(CLI::App& app, Context& ctx) {
  CLI::App* journal = app.add_subcommand("journal", "check, repair or print a journal topic");
  journal->require_subcommand(1);
  auto o = std::make_shared<JournalOptions>();
  CLI::App* verify = journal->add_subcommand("verify", "check every record; exit code 0 = healthy");
  CLI::App* recover = journal->add_subcommand("recover", "cut a torn tail, void abandoned claims (no publisher running)");
  CLI::App* dump = journal->add_subcommand("dump", "print the records from a start point up to the end");
  for (CLI::App* command : {verify, recover, dump}) {
    command->add_option("TOPIC", o->topic)->required();
    add_json_flag(*command, o->json);
  }
  dump->add_option("--from", o->from, "earliest | latest | POSITION | TIME (2026-11-25T17:00:00Z, @UNIX_SECONDS, -10m)")
      ->capture_default_str();
  dump->add_option("--count", o->count, "stop after N records");
  verify->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_check(ctx, *o, false); }; });
  recover->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_check(ctx, *o, true); }; });
  dump->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_dump(ctx, *o); }; });
}

}  // namespace shmbus::cli
