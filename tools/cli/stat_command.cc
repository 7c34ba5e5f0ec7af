// `shmbus stat TOPIC [--json]`: a topic's counters; for a journal also its segments, flushes,
// retention and named cursors.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "cli_output.h"
#include "command.h"

namespace shmbus::cli {
namespace {

struct StatOptions {
  std::string topic;
  bool json = false;
};

void print_text(const TopicStats& s) {
  std::cout << "topic      " << s.name << "\nkind       " << to_string(s.kind) << "\ncapacity   " << s.config.capacity
            << "\npolicy     " << to_string(s.config.policy) << "\ntail       " << s.tail_position << "\npublished  "
            << s.published << "\nbytes      " << s.bytes << "\nlost       " << s.lost << "\nunblocked  " << s.unblocked
            << "\nevicted    " << s.evicted << "\npublishers " << s.publishers << "\nsubscribers " << s.subscribers << '\n';
  if (s.kind != TopicKind::kJournal) return;
  std::cout << "directory  " << s.config.data_dir << "\nsegment    " << s.config.segment_bytes << "\nfsync      "
            << to_string(s.config.fsync, s.config.fsync_interval) << "\nflushed    " << s.flushed_position << " ("
            << s.flushes << " flushes, " << s.flushed_records << " records)\n";
  if (s.config.retain_bytes != 0) std::cout << "retain     " << s.config.retain_bytes << " bytes\n";
  if (s.config.retain_age.count() != 0) std::cout << "retain age " << s.config.retain_age.count() / 1000.0 << " s\n";
  std::cout << "segments   " << s.segments << " (+" << s.spare_segments << " spare; " << s.disk_bytes
            << " bytes on disk, " << s.deleted_segments << " deleted by retention, " << s.skipped
            << " records skipped)\nfirst      " << s.first_position << "\noldest     " << s.oldest_ns << "\nnewest     "
            << s.newest_ns << '\n';
  for (const CursorStats& c : s.cursors) {
    std::cout << "cursor     " << c.name << " @" << c.position << " lag " << c.lag_records << " records, " << c.lag_bytes
              << " bytes" << (c.in_use ? " (in use)" : "") << '\n';
  }
}

void print_json(const TopicStats& s) {
  JsonObject out;
  out.add("topic", s.name).add("kind", to_string(s.kind)).add("capacity", s.config.capacity);
  out.add("policy", to_string(s.config.policy)).add("tail", s.tail_position).add("published", s.published);
  out.add("bytes", s.bytes).add("lost", s.lost).add("unblocked", s.unblocked).add("evicted", s.evicted);
  out.add("publishers", s.publishers).add("subscribers", s.subscribers);
  if (s.kind == TopicKind::kJournal) {
    out.add("directory", s.config.data_dir).add("segment_bytes", s.config.segment_bytes);
    out.add("fsync", to_string(s.config.fsync, s.config.fsync_interval)).add("flushed_position", s.flushed_position);
    out.add("flushes", s.flushes).add("flushed_records", s.flushed_records);
    out.add("retain_bytes", s.config.retain_bytes).add("retain_age_s", s.config.retain_age.count() / 1000.0);
    out.add("segments", s.segments).add("spare_segments", s.spare_segments).add("disk_bytes", s.disk_bytes);
    out.add("deleted_segments", s.deleted_segments).add("skipped", s.skipped).add("first_position", s.first_position);
    out.add("oldest_ns", s.oldest_ns).add("newest_ns", s.newest_ns);
    std::string cursors = "[";
    for (const CursorStats& c : s.cursors) cursors += (cursors.size() > 1 ? "," : "") + cursor_json(c);
    out.add_raw("cursors", cursors + "]");
  }
  std::cout << out.str() << '\n';
}

}  // namespace

void add_stat_command(CLI::App& app, Context& ctx) {
  CLI::App* stat = app.add_subcommand("stat", "counters of a topic");
  auto o = std::make_shared<StatOptions>();
  stat->add_option("TOPIC", o->topic)->required();
  add_json_flag(*stat, o->json);
  stat->callback([&ctx, o] {
    ctx.run = [&ctx, o] {
      Bus bus = ctx.open_bus();
      const TopicStats s = bus.stats(o->topic);
      o->json ? print_json(s) : print_text(s);
      return 0;
    };
  });
}

}  // namespace shmbus::cli
