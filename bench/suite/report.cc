// Turning repetitions into medians, verdicts, a markdown table and JSON.
#include <algorithm>
#include <cstdio>
#include <string>

#include "suite.h"

namespace shmbus::bench {
namespace {

Spread percentile_spread(const std::vector<Percentiles>& runs, double Percentiles::*field) {
  std::vector<double> values;
  for (const Percentiles& p : runs) values.push_back(p.*field);
  return spread_of(values);
}

// Percentiles reported for a path: the median of each percentile over the runs; max is the max.
Percentiles median_percentiles(const std::vector<Percentiles>& runs) {
  Percentiles out;
  out.p50 = percentile_spread(runs, &Percentiles::p50).median;
  out.p99 = percentile_spread(runs, &Percentiles::p99).median;
  out.p999 = percentile_spread(runs, &Percentiles::p999).median;
  out.p9999 = percentile_spread(runs, &Percentiles::p9999).median;
  out.max = percentile_spread(runs, &Percentiles::max).max;
  return out;
}

// Median over repetitions of ours / reference, each repetition's pair measured back to back: the
// host's speed changes between launches (the floor moves 45 .. 250 ns), a ratio of neighbours
// does not.
double paired_ratio(const std::vector<Percentiles>& ours, double Percentiles::*field,
                    const std::vector<Percentiles>& reference) {
  std::vector<double> ratios;
  for (size_t i = 0; i < ours.size() && i < reference.size(); ++i) ratios.push_back(ours[i].*field / reference[i].p50);
  return spread_of(ratios).median;
}

Spread throughput_spread(const std::vector<Throughput>& runs, double Throughput::*field) {
  std::vector<double> values;
  for (const Throughput& t : runs) values.push_back(t.*field);
  return spread_of(values);
}

std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

std::string spread_text(const Spread& s, const char* format, double scale) {
  return fmt(format, s.min / scale) + " – " + fmt(format, s.max / scale);
}

double fanout_spread(const std::map<int, std::vector<double>>& fanout) {
  double lo = 1e300, hi = 0;
  for (const auto& [subs, runs] : fanout) {
    double m = spread_of(runs).median;
    lo = std::min(lo, m);
    hi = std::max(hi, m);
  }
  return hi > 0 ? (hi - lo) / hi : 0;
}

// Medians of each figure of a group-commit measurement over the runs.
GroupCommit median_group_commit(const std::vector<GroupCommit>& runs) {
  std::vector<double> m, f, per;
  for (const GroupCommit& g : runs) {
    m.push_back(g.messages_per_s);
    f.push_back(g.flushes_per_s);
    per.push_back(g.messages_per_flush);
  }
  return {spread_of(m).median, spread_of(f).median, spread_of(per).median};
}

// {"64":{"messages_per_s":..,"bytes_per_s":..},...}: medians of a stream measurement by size.
std::string stream_json(const std::map<size_t, std::vector<Throughput>>& stream) {
  std::string out = "{";
  bool first = true;
  for (const auto& [size, runs] : stream) {
    out += (first ? "\"" : ",\"") + std::to_string(size) + "\":{\"messages_per_s\":" +
           fmt("%.0f", throughput_spread(runs, &Throughput::messages_per_s).median) +
           ",\"bytes_per_s\":" + fmt("%.0f", throughput_spread(runs, &Throughput::bytes_per_s).median) + "}";
    first = false;
  }
  return out + "}";
}

void json_percentiles(std::string& out, const char* name, const Percentiles& p, bool last = false) {
  out += std::string("\"") + name + "\":{\"p50\":" + fmt("%.1f", p.p50) + ",\"p99\":" + fmt("%.1f", p.p99) +
         ",\"p999\":" + fmt("%.1f", p.p999) + ",\"p9999\":" + fmt("%.1f", p.p9999) + ",\"max\":" + fmt("%.1f", p.max) + "}";
  if (!last) out += ",";
}

std::string size_text(size_t bytes) { return bytes % 1024 == 0 ? std::to_string(bytes / 1024) + " KiB" : std::to_string(bytes) + " B"; }

}  // namespace

std::string AgainstNaiveRing::line() const {
  std::string out = std::string(single_publisher ? "single-publisher stream " : "stream ") + size_text(payload_bytes) + ": " + fmt("%.2f", messages_per_s / 1e6) + " M msg/s = " +
                    fmt("%.2f", ratio.median) + " x naive ring (goal >= " + fmt("%g", kGoal) + " x) [" +
                    (met() ? "met" : "missed") + "]; naive ring " + fmt("%.2f", naive_ring_messages_per_s / 1e6) +
                    " M msg/s, paired ratios " + fmt("%.2f", ratio.min) + "-" + fmt("%.2f", ratio.max) + "; ";
  if (frame_ratio.median > 0) {
    out += "against a naive ring whose slots are our frame's size (the same bytes per message): " + fmt("%.2f", frame_ratio.median) +
           " x (paired " + fmt("%.2f", frame_ratio.min) + "-" + fmt("%.2f", frame_ratio.max) + "); ";
  }
  out += floor_ns > 0 ? "floor " + fmt("%.0f", floor_ns) + " ns one-way (cache-line ping-pong, same run)" : "floor not measured";
  // Pairs that disagree this much mean the run was disturbed (a CPU taken by another process,
  // the host changing mode within a pair): the median is then no verdict to trust.
  if (noisy()) out += "; NOISY (paired ratios differ > " + fmt("%g", kNoisySpread) + " x: repeat on a quiet host)";
  return out;
}

std::vector<AgainstNaiveRing> against_naive_ring(const SuiteResults& r) {
  std::vector<AgainstNaiveRing> out;
  const double floor_ns = r.floor.empty() ? 0 : percentile_spread(r.floor, &Percentiles::p50).median;
  for (const bool single : {true, false}) {
    for (const auto& [size, ours] : single ? r.single_stream : r.stream) {
      auto naive = r.naive_ring.find(size);
      if (naive == r.naive_ring.end()) continue;
      // Paired by repetition: both vectors hold one entry per repetition, in run order.
      auto paired = [&](const std::vector<Throughput>& reference) {
        std::vector<double> ratios;
        for (size_t i = 0; i < ours.size() && i < reference.size(); ++i) {
          ratios.push_back(ours[i].messages_per_s / reference[i].messages_per_s);
        }
        return ratios;
      };
      const std::vector<double> ratios = paired(naive->second);
      if (ratios.empty()) continue;
      AgainstNaiveRing a{size, single, throughput_spread(ours, &Throughput::messages_per_s).median,
                         throughput_spread(naive->second, &Throughput::messages_per_s).median, spread_of(ratios), {}, floor_ns};
      if (auto frame = r.naive_ring_frame.find(size); frame != r.naive_ring_frame.end()) {
        const std::vector<double> frame_ratios = paired(frame->second);
        if (!frame_ratios.empty()) a.frame_ratio = spread_of(frame_ratios);
      }
      out.push_back(a);
    }
  }
  return out;
}

std::vector<Verdict> verdicts(const SuiteResults& r) {
  // With --only some inputs are missing: a verdict needs all of its own.
  const double memcpy = spread_of(r.memcpy_bytes_per_s).median;
  std::vector<Verdict> out;
  if (!r.floor.empty() && !r.spin.empty()) {
    out.push_back({"spin one-way p50 / floor p50", paired_ratio(r.spin, &Percentiles::p50, r.floor), 1.5, false});
    out.push_back({"spin one-way p99.9 / floor p50", paired_ratio(r.spin, &Percentiles::p999, r.floor), 5.0, false});
  }

  if (r.stream.count(64)) {
    out.push_back({"64 B stream, M msg/s", throughput_spread(r.stream.at(64), &Throughput::messages_per_s).median / 1e6, 20.0, true});
  }
  // Issue 12: against the ring a user would write, measured next to ours (paired ratios).
  // The bar is on the single-publisher topic, the naive ring's like (one producer); a shared
  // topic's ratio is reported beside it as an aim of ours.
  const std::vector<AgainstNaiveRing> against = against_naive_ring(r);
  for (const AgainstNaiveRing& a : against) {
    out.push_back({size_text(a.payload_bytes) + (a.single_publisher ? " single-publisher stream" : " shared-topic stream") +
                       " / naive SPSC ring",
                   a.ratio.median, AgainstNaiveRing::kGoal, true, a.single_publisher});
  }
  // Beside the issue's bar: the same, against slots that carry as many bytes as our frames do.
  for (const AgainstNaiveRing& a : against) {
    if (!a.single_publisher || a.frame_ratio.median <= 0) continue;
    out.push_back({size_text(a.payload_bytes) + " single-publisher stream / naive ring of frame-sized slots", a.frame_ratio.median,
                   AgainstNaiveRing::kGoal, true, false});
  }
  if (r.stream.count(1024) && memcpy > 0) {
    out.push_back({"1 KiB stream / memcpy bandwidth", throughput_spread(r.stream.at(1024), &Throughput::bytes_per_s).median / memcpy, 0.5, true});
  }
  if (r.fanout_idle.size() > 1) {
    out.push_back({"fan-out, attached 0/1/4/16: (max - min) / max", fanout_spread(r.fanout_idle), 0.10, false});
  }
  // Our own aims beside the issues' bars: subscribers that read (the issue's fan-out bar is on
  // attached ones), and the journal's 1 -> 1 stream (issue 3's bar is on append).
  if (r.fanout.size() > 1) {
    out.push_back({"fan-out, reading 0/1/4/16: (max - min) / max", fanout_spread(r.fanout), 0.10, false, false});
  }
  // Journal topics (issue 3): fsync never, segments in the page cache.
  // The issue's bar is on append throughput (a publisher alone); the 1 -> 1 stream is reported too.
  if (r.journal_append.count(64)) {
    out.push_back({"journal 64 B append, M msg/s", throughput_spread(r.journal_append.at(64), &Throughput::messages_per_s).median / 1e6,
                   10.0, true});
  }
  if (r.journal_append.count(1024) && memcpy > 0) {
    out.push_back({"journal 1 KiB append / memcpy bandwidth",
                   throughput_spread(r.journal_append.at(1024), &Throughput::bytes_per_s).median / memcpy, 0.5, true});
  }
  if (r.journal_stream.count(64)) {
    out.push_back({"journal 64 B stream, M msg/s", throughput_spread(r.journal_stream.at(64), &Throughput::messages_per_s).median / 1e6,
                   10.0, true});
  }
  if (r.journal_stream.count(1024) && memcpy > 0) {
    out.push_back({"journal 1 KiB stream / memcpy bandwidth",
                   throughput_spread(r.journal_stream.at(1024), &Throughput::bytes_per_s).median / memcpy, 0.5, true, false});
  }
  if (!r.journal_spin.empty() && !r.spin.empty()) {
    out.push_back({"journal spin p50 / memory spin p50", paired_ratio(r.journal_spin, &Percentiles::p50, r.spin), 2.0, false});
  }
  if (!r.block.empty() && !r.unix_socket.empty()) {
    out.push_back({"block one-way p50 / Unix socket p50",
                   paired_ratio(r.block, &Percentiles::p50, r.unix_socket), 1.0, false});
  }
  return out;
}

std::string to_markdown(const SuiteResults& r) {
  std::string out;
  out += "shmbus bench: " + r.cpu_model + ", CPUs " + std::to_string(r.cpus.ours) + "+" + std::to_string(r.cpus.peer) +
         (r.cpus.shared ? " (ONE CPU: both processes share it; latencies are meaningless)" : "") + ", " +
         std::to_string(r.repetitions) + " interleaved repetitions; medians, spread = min – max\n\n";

  out += "| one-way latency, 64 B (ns) | p50 | p99 | p99.9 | p99.99 | max | p50 spread |\n|---|---:|---:|---:|---:|---:|---:|\n";
  auto latency_row = [&](const char* name, const std::vector<Percentiles>& runs) {
    if (runs.empty()) return;
    Percentiles p = median_percentiles(runs);
    out += std::string("| ") + name + " | " + fmt("%.0f", p.p50) + " | " + fmt("%.0f", p.p99) + " | " + fmt("%.0f", p.p999) +
           " | " + fmt("%.0f", p.p9999) + " | " + fmt("%.0f", p.max) + " | " +
           spread_text(percentile_spread(runs, &Percentiles::p50), "%.0f", 1) + " |\n";
  };
  latency_row("floor: cache-line ping-pong", r.floor);
  latency_row("floor: two-line message ping-pong", r.floor_two_lines);
  latency_row("shmbus, spin", r.spin);
  latency_row("shmbus, block (futex)", r.block);
  latency_row("Unix socket (blocking)", r.unix_socket);
  latency_row("shmbus journal topic, spin", r.journal_spin);

  out += "\n| throughput | median | spread |\n|---|---:|---:|\n";
  Spread memcpy = spread_of(r.memcpy_bytes_per_s);
  if (!r.memcpy_bytes_per_s.empty()) out += "| floor: memcpy 64 MiB, GB/s | " + fmt("%.2f", memcpy.median / 1e9) + " | " + spread_text(memcpy, "%.2f", 1e9) + " |\n";
  for (const auto& [size, runs] : r.stream) {
    Spread m = throughput_spread(runs, &Throughput::messages_per_s);
    Spread b = throughput_spread(runs, &Throughput::bytes_per_s);
    out += "| 1 → 1 stream " + std::to_string(size) + " B, M msg/s | " + fmt("%.2f", m.median / 1e6) + " | " + spread_text(m, "%.2f", 1e6) + " |\n";
    out += "| 1 → 1 stream " + std::to_string(size) + " B, GB/s | " + fmt("%.2f", b.median / 1e9) + " | " + spread_text(b, "%.2f", 1e9) + " |\n";
  }
  for (const auto& [size, runs] : r.single_stream) {
    Spread m = throughput_spread(runs, &Throughput::messages_per_s);
    out += "| 1 → 1 stream, single-publisher topic " + std::to_string(size) + " B, M msg/s | " + fmt("%.2f", m.median / 1e6) + " | " +
           spread_text(m, "%.2f", 1e6) + " |\n";
  }
  for (const auto& [size, runs] : r.naive_ring) {
    Spread m = throughput_spread(runs, &Throughput::messages_per_s);
    out += "| naive SPSC ring " + std::to_string(size) + " B, M msg/s | " + fmt("%.2f", m.median / 1e6) + " | " + spread_text(m, "%.2f", 1e6) + " |\n";
  }
  for (const auto& [size, runs] : r.naive_ring_frame) {
    Spread m = throughput_spread(runs, &Throughput::messages_per_s);
    out += "| naive SPSC ring, " + std::to_string(size) + " B in slots of our frame's size, M msg/s | " + fmt("%.2f", m.median / 1e6) +
           " | " + spread_text(m, "%.2f", 1e6) + " |\n";
  }
  auto fanout_rows = [&](const std::map<int, std::vector<double>>& fanout, const char* what) {
    for (const auto& [subs, runs] : fanout) {
      Spread s = spread_of(runs);
      out += "| publish, overwrite, " + std::to_string(subs) + " subscribers " + what + ", M msg/s | " +
             fmt("%.2f", s.median / 1e6) + " | " + spread_text(s, "%.2f", 1e6) + " |\n";
    }
  };
  fanout_rows(r.fanout_idle, "attached");
  fanout_rows(r.fanout, "reading");
  auto journal_rows = [&](const std::map<size_t, std::vector<Throughput>>& runs_by_size, const std::string& what) {
    for (const auto& [size, runs] : runs_by_size) {
      Spread m = throughput_spread(runs, &Throughput::messages_per_s);
      Spread b = throughput_spread(runs, &Throughput::bytes_per_s);
      out += "| journal " + what + " " + std::to_string(size) + " B, M msg/s | " + fmt("%.2f", m.median / 1e6) + " | " +
             spread_text(m, "%.2f", 1e6) + " |\n";
      out += "| journal " + what + " " + std::to_string(size) + " B, GB/s | " + fmt("%.2f", b.median / 1e9) + " | " +
             spread_text(b, "%.2f", 1e9) + " |\n";
    }
  };
  journal_rows(r.journal_append, "append (publisher alone)");
  journal_rows(r.journal_stream, "1 → 1 stream");
  if (!r.group_commit.empty()) {
    out += "\n| journal fsync always, 64 B | publishers | M msg/s | flushes/s | msgs/flush |\n|---|---:|---:|---:|---:|\n";
    for (const auto& [threads, runs] : r.group_commit) {
      const GroupCommit g = median_group_commit(runs);
      out += "| group commit | " + std::to_string(threads) + " | " + fmt("%.3f", g.messages_per_s / 1e6) + " | " +
             fmt("%.0f", g.flushes_per_s) + " | " + fmt("%.1f", g.messages_per_flush) + " |\n";
    }
  }

  const std::vector<AgainstNaiveRing> naive = against_naive_ring(r);
  if (!naive.empty()) {
    out += "\nAgainst a naive SPSC ring (bench/suite/naive_ring.h, 8 MiB of fixed slots, each repetition measured next to "
           "ours; ratio = median of the per-repetition ratios):\n";
    for (const AgainstNaiveRing& a : naive) out += "\n" + a.line() + "\n";
  }

  out += "\n| target | measured | bar | |\n|---|---:|---:|---|\n";
  for (const Verdict& v : verdicts(r)) {
    out += "| " + v.name + " | " + fmt("%.2f", v.value) + " | " + (v.higher_is_better ? "≥ " : "≤ ") + fmt("%.2f", v.bar) +
           " | " + (v.issue_bar ? (v.pass() ? "met" : "MISSED") : (v.pass() ? "met (our aim)" : "below (our aim)")) + " |\n";
  }
  return out;
}

std::string to_json(const SuiteResults& r) {
  std::string out = "{\"machine\":{\"cpu\":\"" + r.cpu_model + "\",\"cpus\":[" + std::to_string(r.cpus.ours) + "," +
                    std::to_string(r.cpus.peer) + "],\"shared_cpu\":" + (r.cpus.shared ? "true" : "false") +
                    "},\"repetitions\":" + std::to_string(r.repetitions) + ",";
  out += "\"floor\":{";
  json_percentiles(out, "pingpong_ns", median_percentiles(r.floor));
  if (!r.floor_two_lines.empty()) json_percentiles(out, "two_lines_pingpong_ns", median_percentiles(r.floor_two_lines));
  out += "\"memcpy_bytes_per_s\":" + fmt("%.0f", spread_of(r.memcpy_bytes_per_s).median) + "},";
  out += "\"latency_ns\":{";
  json_percentiles(out, "spin", median_percentiles(r.spin));
  json_percentiles(out, "block", median_percentiles(r.block));
  json_percentiles(out, "unix_socket", median_percentiles(r.unix_socket), true);
  out += "},\"throughput\":" + stream_json(r.stream);
  out += ",\"single_publisher_throughput\":" + stream_json(r.single_stream);
  out += ",\"naive_ring\":" + stream_json(r.naive_ring);
  out += ",\"naive_ring_frame_slots\":" + stream_json(r.naive_ring_frame) + ",\"against_naive_ring\":{";
  bool first_ratio = true;
  for (const AgainstNaiveRing& a : against_naive_ring(r)) {
    out += (first_ratio ? "\"" : ",\"") + std::string(a.single_publisher ? "single-" : "") + std::to_string(a.payload_bytes) +
           "\":{\"messages_per_s\":" + fmt("%.0f", a.messages_per_s) +
           ",\"naive_ring_messages_per_s\":" + fmt("%.0f", a.naive_ring_messages_per_s) + ",\"ratio\":" + fmt("%.4f", a.ratio.median) +
           ",\"ratio_min\":" + fmt("%.4f", a.ratio.min) + ",\"ratio_max\":" + fmt("%.4f", a.ratio.max) +
           ",\"frame_slots_ratio\":" + fmt("%.4f", a.frame_ratio.median) +
           ",\"goal\":" + fmt("%g", AgainstNaiveRing::kGoal) + ",\"met\":" + (a.met() ? "true" : "false") + ",\"noisy\":" + (a.noisy() ? "true" : "false") +
           ",\"floor_ns\":" + fmt("%.1f", a.floor_ns) + ",\"line\":\"" + a.line() + "\"}";
    first_ratio = false;
  }
  out += "}";
  auto fanout_json = [&](const char* name, const std::map<int, std::vector<double>>& fanout) {
    out += std::string(",\"") + name + "\":{";
    bool first_entry = true;
    for (const auto& [subs, runs] : fanout) {
      out += (first_entry ? "\"" : ",\"") + std::to_string(subs) + "\":" + fmt("%.0f", spread_of(runs).median);
      first_entry = false;
    }
    out += "}";
  };
  fanout_json("fanout_attached_messages_per_s", r.fanout_idle);
  fanout_json("fanout_reading_messages_per_s", r.fanout);
  out += ",\"journal\":{";
  json_percentiles(out, "spin_ns", median_percentiles(r.journal_spin));
  out += "\"append\":" + stream_json(r.journal_append) + ",";
  out += "\"stream\":" + stream_json(r.journal_stream) + ",\"fsync_always\":{";
  bool first = true;
  for (const auto& [threads, runs] : r.group_commit) {
    const GroupCommit g = median_group_commit(runs);
    out += (first ? "\"" : ",\"") + std::to_string(threads) + "\":{\"messages_per_s\":" + fmt("%.0f", g.messages_per_s) +
           ",\"flushes_per_s\":" + fmt("%.0f", g.flushes_per_s) +
           ",\"messages_per_flush\":" + fmt("%.2f", g.messages_per_flush) + "}";
    first = false;
  }
  out += "}";
  out += "},\"targets\":[";
  first = true;
  for (const Verdict& v : verdicts(r)) {
    out += std::string(first ? "" : ",") + "{\"name\":\"" + v.name + "\",\"value\":" + fmt("%.4f", v.value) +
           ",\"bar\":" + fmt("%.4f", v.bar) + ",\"met\":" + (v.pass() ? "true" : "false") +
           ",\"issue_bar\":" + (v.issue_bar ? "true" : "false") + "}";
    first = false;
  }
  out += "]}";
  return out;
}

}  // namespace shmbus::bench
