// The SQLite outbox's cost (bench/RESULTS.md, "Outbox"): a service's transaction with one event
// written to the outbox, against the same transaction without it, in the same run, at
// synchronous=FULL and NORMAL (WAL), for two transactions: `update` (UPDATE one account row:
// one page, the worst case for the ratio) and `order` (INSERT an order row, UPDATE its account):
//   throughput  N transactions back to back, timed until the relay has put the last event on
//               the bus and marked it sent (flush(): its own writes are paid inside the time);
//               the ratio is outbox time / plain time per repetition; the target is <= 1.2.
//               Beside them the floor: the same transaction with the event's row (the record the
//               outbox writes) inserted into a plain table, no relay: what any outbox adds to
//               the commit; and the page alone: one integer inserted into a table of its own,
//               the second B-tree page (its WAL frame and checkpoint share) without the row's
//               bytes or envelope, what no outbox in this database can go below. The four
//               rotate which goes first. No subscriber runs meanwhile.
//   latency     one `update` transaction at a time: commit() called -> the event read by a
//               subscriber (blocking wait) on the bus; beside it the floor a service without an
//               outbox gets: commit, then publish the event itself, the same subscriber reading.
// Usage: shmbus_outbox_bench [--reps 5] [--tx-full 300] [--tx-normal 5000] [--latency 300]
//                            [--linger-us 0] [--dir /var/tmp]   (the database's directory: a real disk)
//                            [--sync both|full|normal]
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "shmbus/bus.h"
#include "shmbus/outbox/outbox.h"
#include "shmbus/outbox/sqlite.h"
#include "shmbus/service/service.h"

namespace bench {
struct AccountCredited {
  int64_t id = 0;     // first in the JSON (keys sorted): the subscriber reads it without parsing
  std::string x;      // padding to ~100 bytes of payload
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(AccountCredited, id, x)
}  // namespace bench
SHMBUS_MESSAGE(bench::AccountCredited, "AccountCredited", 1, event);

namespace {

using namespace shmbus;
using Clock = std::chrono::steady_clock;
constexpr int kAccounts = 1000;
const std::string kTopic = "events.AccountCredited";

int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }

// Reads the event topic on its own thread: the receive time of each id.
class Reader {
 public:
  explicit Reader(Bus& bus, size_t ids) : sub_(bus.subscribe(kTopic)), received_ns_(ids, 0) {
    thread_ = std::thread([this] { run(); });
  }
  ~Reader() {
    stop_.store(true, std::memory_order_relaxed);
    thread_.join();
  }
  // Waits until id has been read; its receive time.
  int64_t wait_for(int64_t id) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return received_ns_[static_cast<size_t>(id)] != 0; });
    return received_ns_[static_cast<size_t>(id)];
  }

 private:
  void run() {
    while (!stop_.load(std::memory_order_relaxed)) {
      (void)sub_.receive(
          [&](const Message& m) {
            const int64_t t = now_ns();
            const std::string_view text = m.text();  // {"id":123,"x":"..."}
            const int64_t id = std::strtoll(text.data() + 6, nullptr, 10);
            if (id < 0 || static_cast<size_t>(id) >= received_ns_.size()) return;
            {
              std::lock_guard<std::mutex> guard(mu_);
              received_ns_[static_cast<size_t>(id)] = t;
            }
            cv_.notify_all();
          },
          256, std::chrono::milliseconds(50));
    }
  }
  Subscription sub_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int64_t> received_ns_;
  std::atomic<bool> stop_{false};  // relaxed: polled by the reader; join() orders the rest
  std::thread thread_;
};

struct Setup {
  std::shared_ptr<outbox::SqliteStore> store;
  outbox::SqliteConnection conn;
  sqlite3_stmt* update = nullptr;
  sqlite3_stmt* insert_order = nullptr;
  sqlite3_stmt* insert_row = nullptr;  // the floor: the event's row into a plain table
  sqlite3_stmt* insert_page = nullptr;  // the page alone: one integer into a table of its own
};

// plain: the service's transaction alone; row: with the event's row (the same bytes the outbox
// writes) inserted into a table of its own, no relay: what any outbox must add to the commit;
// outbox: with outbox.publish, the relay putting it on the bus; page: one integer into a table
// of its own, the second page's cost alone.
enum class Variant { kPlain, kRow, kOutbox, kPage };
constexpr int kVariants = 4;

void step(Setup& s, sqlite3_stmt* st) {
  if (sqlite3_step(st) != SQLITE_DONE) throw Error(std::string("bench SQL: ") + sqlite3_errmsg(s.conn.handle()));
  sqlite3_reset(st);
}

// The service's own work in the transaction.
void credit(Setup& s, int64_t id, bool order) {
  if (order) {
    sqlite3_bind_int64(s.insert_order, 1, id);
    sqlite3_bind_int64(s.insert_order, 2, id % kAccounts);
    step(s, s.insert_order);
  }
  sqlite3_bind_int64(s.update, 1, id % kAccounts);
  step(s, s.update);
}

bench::AccountCredited event_of(int64_t id) { return {id, std::string(70, 'x')}; }

// The floor's row: the record the outbox would write for the event (headers and JSON).
void insert_row(Setup& s, int64_t id) {
  const service::Envelope env = service::Envelope::start(service::message_type_of<bench::AccountCredited>(), "bench");
  const outbox::OutboxMessage m = outbox::encode_message(kTopic, env, service::encode(event_of(id)));
  sqlite3_bind_text(s.insert_row, 1, m.message_id.data(), static_cast<int>(m.message_id.size()), SQLITE_STATIC);
  sqlite3_bind_text(s.insert_row, 2, m.topic.data(), static_cast<int>(m.topic.size()), SQLITE_STATIC);
  sqlite3_bind_blob(s.insert_row, 3, m.headers.data(), static_cast<int>(m.headers.size()), SQLITE_STATIC);
  sqlite3_bind_blob(s.insert_row, 4, m.payload.data(), static_cast<int>(m.payload.size()), SQLITE_STATIC);
  step(s, s.insert_row);
}

// N transactions of the variant. Seconds until the last is on the bus and marked sent (outbox:
// flush()) or committed. No subscriber reads meanwhile: its thread is not the outbox's cost.
double throughput_run(Setup& s, outbox::Outbox& ob, int64_t& next_id, int n, Variant v, bool order) {
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    const int64_t id = next_id++;
    outbox::SqliteTransaction tx = s.conn.begin();
    credit(s, id, order);
    if (v == Variant::kOutbox) ob.publish(tx, event_of(id));
    if (v == Variant::kRow) insert_row(s, id);
    if (v == Variant::kPage) {
      sqlite3_bind_int64(s.insert_page, 1, id);
      step(s, s.insert_page);
    }
    tx.commit();
  }
  if (v == Variant::kOutbox && !ob.flush(std::chrono::seconds(60))) throw Error("bench: the relay did not catch up in 60 s");
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One transaction at a time: commit returned -> the event read. via_outbox false: the service
// publishes the event itself right after its commit (the floor).
std::vector<double> latency_run(Setup& s, outbox::Outbox& ob, Publisher& direct, Reader& reader, int64_t& next_id,
                                int n, bool via_outbox) {
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    const int64_t id = next_id++;
    outbox::SqliteTransaction tx = s.conn.begin();
    credit(s, id, false);
    if (via_outbox) ob.publish(tx, event_of(id));
    const int64_t committed = now_ns();
    tx.commit();
    if (!via_outbox) {
      const service::Envelope env = service::Envelope::start(service::message_type_of<bench::AccountCredited>(), "bench");
      const std::vector<Header> headers = env.headers();
      (void)direct.publish(service::encode(event_of(id)), headers);
    }
    us.push_back(std::max<int64_t>(0, reader.wait_for(id) - committed) / 1000.0);
  }
  return us;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}
double median(std::vector<double> v) { return percentile(std::move(v), 0.5); }

void run_mode(outbox::Synchronous sync, const std::string& dir, int reps, int n, int latency_n, int linger_us) {
  const char* name = sync == outbox::Synchronous::kFull ? "FULL" : "NORMAL";
  const std::string path = dir + "/shmbus-outbox-bench-" + std::to_string(::getpid()) + ".db";
  const std::string bus_dir = "/dev/shm/shmbus-outbox-bench-" + std::to_string(::getpid());
  for (const char* suffix : {"", "-wal", "-shm", "-relay.lock"}) std::filesystem::remove(path + suffix);
  std::filesystem::remove_all(bus_dir);
  {
    Bus bus = Bus::open(bus_dir);
    TopicConfig journal;
    journal.kind = TopicKind::kJournal;
    bus.create_topic(kTopic, journal);
    auto store = outbox::SqliteStore::open(path, {.synchronous = sync});
    Setup s{store, store->connect()};
    s.conn.exec("CREATE TABLE account (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)");
    s.conn.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, account INTEGER NOT NULL, status TEXT NOT NULL)");
    s.conn.exec("WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < " +
                std::to_string(kAccounts - 1) + ") INSERT INTO account SELECT i, 0 FROM k");
    sqlite3_prepare_v2(s.conn.handle(), "UPDATE account SET balance = balance + 1 WHERE id = ?1", -1, &s.update, nullptr);
    sqlite3_prepare_v2(s.conn.handle(), "INSERT INTO orders(id, account, status) VALUES (?1, ?2, 'placed')", -1,
                       &s.insert_order, nullptr);
    s.conn.exec("CREATE TABLE event_row (seq INTEGER PRIMARY KEY, message_id TEXT NOT NULL, topic TEXT NOT NULL, "
                "headers BLOB NOT NULL, payload BLOB NOT NULL)");
    sqlite3_prepare_v2(s.conn.handle(), "INSERT INTO event_row(message_id, topic, headers, payload) VALUES (?1, ?2, ?3, ?4)",
                       -1, &s.insert_row, nullptr);
    s.conn.exec("CREATE TABLE page_only (x INTEGER NOT NULL)");
    sqlite3_prepare_v2(s.conn.handle(), "INSERT INTO page_only(x) VALUES (?1)", -1, &s.insert_page, nullptr);
    outbox::OutboxOptions oo;
    oo.source = "bench";
    oo.journal = journal;
    oo.linger = std::chrono::microseconds(linger_us);
    outbox::Outbox ob(bus, s.store, oo);
    Publisher direct = bus.publisher(kTopic);
    const size_t ids = static_cast<size_t>(reps) * (2 * kVariants * n + 2 * latency_n) + 16;
    int64_t next_id = 1;

    std::vector<double> plain_tps[2], outbox_tps[2], ratios[2], row_ratios[2], page_ratios[2], lat_outbox, lat_direct, p99_outbox,
        p99_direct;
    for (int r = 0; r < reps; ++r) {
      for (int w = 0; w < 2; ++w) {  // update, order
        double secs[kVariants] = {};  // by Variant
        for (int k = 0; k < kVariants; ++k) {  // each repetition starts with the next variant
          const int v = (r + k) % kVariants;
          secs[v] = throughput_run(s, ob, next_id, n, static_cast<Variant>(v), w == 1);
        }
        const double plain = secs[0], row = secs[1], with = secs[2], page = secs[3];
        plain_tps[w].push_back(n / plain);
        outbox_tps[w].push_back(n / with);
        ratios[w].push_back(with / plain);
        row_ratios[w].push_back(row / plain);
        page_ratios[w].push_back(page / plain);
        std::printf("  %s rep %d %s: plain %.0f tx/s, + a page %.0f tx/s, + a row %.0f tx/s, outbox %.0f tx/s, cost ratio "
                    "%.3f (row %.3f, page %.3f)\n",
                    name, r + 1, w ? "order" : "update", n / plain, n / page, n / row, n / with, with / plain, row / plain,
                    page / plain);
      }
      Reader reader(bus, ids);  // subscribed from here on (the tail)
      const std::vector<double> lo = latency_run(s, ob, direct, reader, next_id, latency_n, true);
      const std::vector<double> ld = latency_run(s, ob, direct, reader, next_id, latency_n, false);
      lat_outbox.push_back(percentile(lo, 0.5));
      p99_outbox.push_back(percentile(lo, 0.99));
      lat_direct.push_back(percentile(ld, 0.5));
      p99_direct.push_back(percentile(ld, 0.99));
      std::printf("  %s rep %d latency: outbox p50 %.1f p99 %.1f us, commit then publish p50 %.1f p99 %.1f us\n", name,
                  r + 1, lat_outbox.back(), p99_outbox.back(), lat_direct.back(), p99_direct.back());
    }
    for (int w = 0; w < 2; ++w) {
      const auto [rmin, rmax] = std::minmax_element(ratios[w].begin(), ratios[w].end());
      std::printf("| %s | %s | %.0f | %.0f | **%.2f** (%.2f-%.2f) %s | %.2f | %.2f |", name, w ? "order" : "update",
                  median(plain_tps[w]), median(outbox_tps[w]), median(ratios[w]), *rmin, *rmax,
                  median(ratios[w]) <= 1.2 ? "met" : "MISSED", median(row_ratios[w]), median(page_ratios[w]));
      if (w == 0) {
        std::printf(" %.0f / %.0f | %.0f / %.0f |\n", median(lat_outbox), median(p99_outbox), median(lat_direct),
                    median(p99_direct));
      } else {
        std::printf(" | |\n");
      }
    }
    const outbox::OutboxStats st = ob.stats();
    std::printf("  relay: %llu relayed, %llu wake-ups, %llu sweeps, %llu errors\n",
                static_cast<unsigned long long>(st.relayed), static_cast<unsigned long long>(st.wakeups),
                static_cast<unsigned long long>(st.sweeps), static_cast<unsigned long long>(st.errors));
    sqlite3_finalize(s.update);
    sqlite3_finalize(s.insert_order);
    sqlite3_finalize(s.insert_row);
    sqlite3_finalize(s.insert_page);
  }
  for (const char* suffix : {"", "-wal", "-shm", "-relay.lock"}) std::filesystem::remove(path + suffix);
  std::filesystem::remove_all(bus_dir);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5, tx_full = 300, tx_normal = 5000, latency = 300, linger_us = 0;
  std::string dir = "/var/tmp", sync = "both";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--reps") reps = std::atoi(argv[i + 1]);
    else if (a == "--tx-full") tx_full = std::atoi(argv[i + 1]);
    else if (a == "--tx-normal") tx_normal = std::atoi(argv[i + 1]);
    else if (a == "--latency") latency = std::atoi(argv[i + 1]);
    else if (a == "--dir") dir = argv[i + 1];
    else if (a == "--linger-us") linger_us = std::atoi(argv[i + 1]);
    else if (a == "--sync") sync = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (sync != "both" && sync != "full" && sync != "normal") {
    std::fprintf(stderr, "--sync takes both, full or normal\n");
    return 2;
  }
  try {
    std::printf("SQLite %s, WAL, database in %s; %d repetitions, plain and outbox alternating; relay linger %d us\n",
                sqlite3_libversion(), dir.c_str(), reps, linger_us);
    std::printf("| synchronous | transaction | plain tx/s | outbox tx/s | outbox cost / plain (paired median, range) | "
                "floor: + a row / plain | + a page alone / plain | commit -> bus p50 / p99 us | floor: commit then "
                "publish p50 / p99 us |\n"
                "|---|---|---|---|---|---|---|---|---|\n");
    if (sync != "normal") run_mode(outbox::Synchronous::kFull, dir, reps, tx_full, latency, linger_us);
    if (sync != "full") run_mode(outbox::Synchronous::kNormal, dir, reps, tx_normal, latency, linger_us);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmbus_outbox_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
