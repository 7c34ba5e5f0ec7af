#include "journal_command.h"

#include <cstdio>

#include "shmbus/journal.h"

namespace shmbus::cli {

int run_journal(Bus& bus, const std::string& topic, bool repair) {
  TopicStats stats = bus.stats(topic);
  if (stats.kind != TopicKind::kJournal) throw Error("topic " + topic + " is a memory topic, not a journal");
  JournalReport r = check_journal(stats.config.data_dir, repair);
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

}  // namespace shmbus::cli
