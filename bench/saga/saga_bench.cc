// Saga transitions per second with persisted state (bench/RESULTS.md, "Sagas").
//   ours:      a SagaEndpoint (SQLite store) moving 100 instances by N events: per message one
//              store transaction (inbox mark, load, JSON state decode/encode, save with version
//              check, one outgoing event row) and the relay publishing that event.
//   reference: a plain service Endpoint whose handler does what an application without the saga
//              layer would: one BEGIN IMMEDIATE; UPDATE counter; COMMIT on the same kind of
//              SQLite file, and publishes the same event through its Context.
// Both drain a backlog of N messages published before they start (one handler thread), timed
// from start() to the last message handled. Repetitions interleave ours and the reference, for
// SQLite synchronous=NORMAL and FULL, and PostgreSQL when SHMBUS_POSTGRES_URL names a cluster;
// the ratios are per repetition (ours / the reference just before).
// The floor: the same write transaction in a loop, without a bus (no handler can beat it).
//   shmbus_saga_bench [messages=5000] [repetitions=5] [dir=./saga-bench]
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#ifdef SHMBUS_SAGA_POSTGRES
#include <pqxx/pqxx>

#include "shmbus/saga/postgres_store.h"
#endif
#include "shmbus/saga/saga.h"
#include "shmbus/service/service.h"

namespace svc = shmbus::service;
namespace saga = shmbus::saga;
using Clock = std::chrono::steady_clock;

struct Move {
  int id = 0;
  int n = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Move, id, n)
struct Moved {
  int id = 0;
  int n = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Moved, id, n)
SHMBUS_MESSAGE(Move, "bench.Move", 1, event);
SHMBUS_MESSAGE(Moved, "bench.Moved", 1, event);

namespace {

constexpr int kInstances = 100;

struct Counter {
  int last = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Counter, last)

void publish_backlog(shmbus::Bus& bus, int messages) {
  const svc::MessageType type = svc::message_type_of<Move>();
  shmbus::Publisher pub = bus.publisher(svc::event_topic(type));
  for (int i = 0; i < messages; ++i) {
    const int id = i % kInstances;
    svc::Envelope env = svc::Envelope::start(type, "bench");
    env.correlation_id = "instance-" + std::to_string(id);
    const auto headers = env.headers();
    (void)pub.publish(svc::encode(Move{id, i / kInstances + 1}), headers);
  }
}

template <class F>
bool wait_for(F done, std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

// The databases in `dir` (on disk), the bus in /dev/shm (its journals too, for both runs).
std::string fresh_dirs(const std::string& dir) {
  const std::string bus_dir = "/dev/shm/shmbus-saga-bench-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(bus_dir);
  std::filesystem::create_directories(dir);
  return bus_dir;
}

shmbus::TopicConfig journal() {
  shmbus::TopicConfig c;
  c.kind = shmbus::TopicKind::kJournal;
  return c;
}

// One kind of database: a fresh one per run, for the floor, the reference and the saga store.
// commit(id, n): one write transaction upserting (id, n) into a counters table.
struct Database {
  std::function<void(int id, int n)> commit;
  std::shared_ptr<saga::Store> store;  // the saga store, in another fresh database
};

struct SqliteCounters {
  SqliteCounters(const std::string& path, bool full) {
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, full ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;" : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                 nullptr, nullptr, nullptr);
    sqlite3_exec(db, "CREATE TABLE counters(id INTEGER PRIMARY KEY, last INT)", nullptr, nullptr, nullptr);
    sqlite3_prepare_v2(db, "INSERT INTO counters VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET last = ?2", -1, &update, nullptr);
  }
  ~SqliteCounters() {
    sqlite3_finalize(update);
    sqlite3_close(db);
  }
  void commit(int id, int n) {
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    sqlite3_reset(update);
    sqlite3_bind_int(update, 1, id);
    sqlite3_bind_int(update, 2, n);
    sqlite3_step(update);
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  sqlite3* db = nullptr;
  sqlite3_stmt* update = nullptr;
};

Database sqlite_database(const std::string& dir, bool full) {
  auto counters = std::make_shared<SqliteCounters>(dir + "/app.db", full);
  return {[counters](int id, int n) { counters->commit(id, n); },
          saga::SqliteStore::open(dir + "/sagas.db", {.full_sync = full})};
}

#ifdef SHMBUS_SAGA_POSTGRES
// A new database in the cluster `url` names; its URL.
std::string fresh_postgres(const std::string& url) {
  static int counter = 0;
  const std::string name = "saga_bench_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  pqxx::connection c(url);
  pqxx::nontransaction w(c);
  w.exec("DROP DATABASE IF EXISTS " + name);
  w.exec("CREATE DATABASE " + name);
  return url.substr(0, url.rfind('/') + 1) + name;
}

Database postgres_database(const std::string& url) {
  auto c = std::make_shared<pqxx::connection>(fresh_postgres(url));
  {
    pqxx::work w(*c);
    w.exec("CREATE TABLE counters(id INT PRIMARY KEY, last INT)");
    w.commit();
  }
  c->prepare("upsert", "INSERT INTO counters VALUES ($1, $2) ON CONFLICT(id) DO UPDATE SET last = $2");
  return {[c](int id, int n) {
            pqxx::work w(*c);
            w.exec_prepared("upsert", id, n);
            w.commit();
          },
          saga::PostgresStore::open(fresh_postgres(url))};
}
#endif

// Transitions per second of the saga endpoint.
double run_saga(const std::string& dir, int messages, const Database& database) {
  const std::string bus_dir = fresh_dirs(dir);
  shmbus::Bus bus = shmbus::Bus::open(bus_dir);
  const std::shared_ptr<saga::Store>& store = database.store;
  saga::Machine<Counter> m("bench-saga");
  const auto move = [](Counter& c, const Move& e, saga::Step& s) {
    c.last = e.n;
    s.publish(Moved{e.id, e.n});
  };
  m.initially<Move>(saga::by_field(&Move::id), [move](Counter& c, const Move& e, saga::Step& s) {
    move(c, e, s);
    s.go("moving");
  });
  m.during<Move>("moving", saga::by_field(&Move::id), move);
  saga::SagaOptions options;
  options.endpoint.concurrency = 1;
  options.endpoint.journal = journal();
  saga::SagaEndpoint sagas(bus, m.definition(), store, options);
  sagas.start();
  sagas.stop();  // the queue is declared: the backlog goes into it
  publish_backlog(bus, messages);
  saga::SagaEndpoint again(bus, m.definition(), store, options);
  const auto t0 = Clock::now();
  again.start();
  const bool ok = wait_for([&] { return again.stats().transitions >= static_cast<uint64_t>(messages); },
                           std::chrono::seconds(600));
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  again.stop();
  if (!ok) std::fprintf(stderr, "saga run did not finish\n");
  return messages / s;
}

// Messages per second of the reference: one plain write transaction per message.
double run_reference(const std::string& dir, int messages, const Database& database) {
  const std::string bus_dir = fresh_dirs(dir);
  shmbus::Bus bus = shmbus::Bus::open(bus_dir);
  std::atomic<int> handled{0};
  svc::EndpointOptions options;
  options.concurrency = 1;
  options.ordering_key = "correlation-id";
  options.journal = journal();
  const auto make = [&] {
    auto e = std::make_unique<svc::Endpoint>(bus, "bench-reference", options);
    e->handle<Move>([&](const Move& m, svc::Context& ctx) {
      database.commit(m.id, m.n);
      ctx.publish(Moved{m.id, m.n});
      handled.fetch_add(1, std::memory_order_relaxed);
    });
    return e;
  };
  make()->start();  // declared, then stopped by its destructor
  publish_backlog(bus, messages);
  auto endpoint = make();
  const auto t0 = Clock::now();
  endpoint->start();
  const bool ok = wait_for([&] { return handled.load(std::memory_order_relaxed) >= messages; }, std::chrono::seconds(600));
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  endpoint->stop();
  if (!ok) std::fprintf(stderr, "reference run did not finish\n");
  return messages / s;
}

// The floor: the same write transaction in a loop, without a bus.
double run_floor(int messages, const Database& database) {
  const auto t0 = Clock::now();
  for (int i = 0; i < messages; ++i) database.commit(i % kInstances, i);
  return messages / std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  const int messages = argc > 1 ? std::atoi(argv[1]) : 5000;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::string dir = std::filesystem::absolute(argc > 3 ? argv[3] : "./saga-bench").string();
  std::printf("saga transitions/s, %d messages over %d instances, 1 handler thread, %d repetitions\n", messages,
              kInstances, reps);
  struct Kind {
    const char* name;
    std::function<Database(const std::string& dir)> open;
  };
  std::vector<Kind> kinds = {
      {"SQLite synchronous=NORMAL", [](const std::string& d) { return sqlite_database(d, false); }},
      {"SQLite synchronous=FULL", [](const std::string& d) { return sqlite_database(d, true); }},
  };
#ifdef SHMBUS_SAGA_POSTGRES
  if (const char* url = std::getenv("SHMBUS_POSTGRES_URL")) {
    kinds.push_back({"PostgreSQL", [url = std::string(url)](const std::string&) { return postgres_database(url); }});
  }
#endif
  for (const Kind& kind : kinds) {
    std::vector<double> ours, reference, ratios, floor;
    for (int r = 0; r < reps; ++r) {
      (void)fresh_dirs(dir + "/db");
      const Database database = kind.open(dir + "/db");
      floor.push_back(run_floor(messages, database));
      reference.push_back(run_reference(dir + "/reference", messages, database));
      ours.push_back(run_saga(dir + "/saga", messages, database));
      ratios.push_back(reference.back() / ours.back());
      std::printf("  %s rep %d: floor %.0f/s, reference %.0f/s, saga %.0f/s, cost ratio %.2f\n", kind.name, r,
                  floor.back(), reference.back(), ours.back(), ratios.back());
      std::fflush(stdout);
    }
    std::printf("%s: saga %.0f transitions/s (median), reference %.0f msg/s, floor %.0f commits/s; "
                "per-message cost ratio saga/reference %.2f (median of paired ratios)\n",
                kind.name, median(ours), median(reference), median(floor), median(ratios));
  }
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all("/dev/shm/shmbus-saga-bench-" + std::to_string(::getpid()));
  return 0;
}
