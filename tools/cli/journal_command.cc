#include "journal_command.h"

#include <cstdio>
#include <ctime>
#include <iostream>

#include "cli_output.h"
#include "shmbus/journal.h"

namespace shmbus::cli {
namespace {

TopicStats journal_stats(Bus& bus, const std::string& topic) {
  TopicStats stats = bus.stats(topic);
  if (stats.kind != TopicKind::kJournal) throw Error("topic " + topic + " is a memory topic, not a journal");
  return stats;
}

std::string utc(int64_t ns) {
  if (ns == 0) return "-";
  const std::time_t seconds = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[48];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ns / 1'000'000 % 1000));
  return text;
}

}  // namespace

int run_journal(Bus& bus, const std::string& topic, bool repair) {
  const TopicStats stats = journal_stats(bus, topic);
  JournalReport r;
  {
    ProgressBar bar("segments");
    r = check_journal(stats.config.data_dir, repair, [&](size_t done, size_t total) { bar.update(done, total); });
  }
  std::printf("journal    %s\ndirectory  %s\nsegments   %zu\nrecords    %llu\nvoided     %llu\n"
              "abandoned  %llu%s\npositions  %llu .. %llu\nnext seq   %llu\ncut bytes  %llu%s\n",
              topic.c_str(), stats.config.data_dir.c_str(), r.segments, static_cast<unsigned long long>(r.records),
              static_cast<unsigned long long>(r.voided), static_cast<unsigned long long>(r.abandoned),
              repair && r.abandoned ? " (voided now)" : "", static_cast<unsigned long long>(r.first_position),
              static_cast<unsigned long long>(r.end_position), static_cast<unsigned long long>(r.next_seq),
              static_cast<unsigned long long>(r.cut_bytes), repair && r.cut_bytes ? " (zeroed now)" : "");
  for (const std::string& p : r.problems) std::printf("problem    %s\n", p.c_str());
  for (const std::string& m : r.moved_aside) std::printf("moved      %s\n", m.c_str());
  if (!repair) {
    std::printf("%s\n", r.healthy() ? "healthy" : "NOT healthy: run `shmbus journal recover` with no publisher running");
    return r.healthy() ? 0 : 1;
  }
  JournalReport after = check_journal(stats.config.data_dir, false);
  std::printf("%s\n", after.healthy() ? "recovered: healthy" : "NOT recovered (see the problems above)");
  return after.healthy() ? 0 : 1;
}

int run_dump(Bus& bus, const std::string& topic, const std::string& from, uint64_t count, bool json) {
  const TopicStats stats = journal_stats(bus, topic);
  Subscriber sub = bus.subscriber(topic, SubscribeOptions(parse_start(from)));
  const uint64_t start = sub.position(), end = stats.tail_position;
  ProgressBar bar("bytes", /*beside_stdout=*/true);
  uint64_t printed = 0;
  while (sub.position() < end && (count == 0 || printed < count)) {
    Result<size_t> n = sub.poll([&](const Message& m) { print_message(m, json); }, count == 0 ? 4096 : count - printed);
    if (!n) throw Error(std::string("reading the journal failed: ") + to_string(n.error()));
    if (*n == 0) break;  // caught up (records being written at the end are not waited for)
    printed += *n;
    bar.update(sub.position() - start, end > start ? end - start : 1);
  }
  std::cout.flush();
  return 0;
}

int run_cursor(Bus& bus, const std::string& action, const std::string& topic, const std::string& name,
               const std::string& where) {
  if (action == "set") {
    bus.set_cursor(topic, name, parse_start(where, "WHERE"));
  } else if (action == "reset") {
    if (!bus.remove_cursor(topic, name)) {
      std::cerr << "shmbus: topic " << topic << " has no cursor " << name << '\n';
      return 1;
    }
    std::cout << "removed cursor " << name << '\n';
    return 0;
  }
  const TopicStats stats = journal_stats(bus, topic);
  std::printf("%-24s %16s %14s %12s %-24s %s\n", "CURSOR", "POSITION", "LAG BYTES", "LAG RECORDS", "COMMITTED", "IN USE");
  for (const CursorStats& c : stats.cursors) {
    if (action == "set" && c.name != name) continue;
    std::printf("%-24s %16llu %14llu %12llu %-24s %s\n", c.name.c_str(), static_cast<unsigned long long>(c.position),
                static_cast<unsigned long long>(c.lag_bytes), static_cast<unsigned long long>(c.lag_records),
                utc(c.committed_ns).c_str(), c.in_use ? "yes" : "no");
  }
  return 0;
}

}  // namespace shmbus::cli
