// The stores the saga tests run on: a SQLite file, or a fresh database in the PostgreSQL
// cluster that SHMBUS_POSTGRES_URL names (tools/postgres_node.sh start DIR; . DIR/env; without
// it the PostgreSQL cases skip).
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

#include "shmbus/saga/sqlite_store.h"
#ifdef SHMBUS_SAGA_POSTGRES
#include <pqxx/pqxx>

#include "shmbus/saga/postgres_store.h"
#endif

namespace saga_test {

inline const char* postgres_url() { return std::getenv("SHMBUS_POSTGRES_URL"); }

// Whether the store kind `kind` ("sqlite", "postgres") can run here.
inline bool available(const std::string& kind) {
#ifdef SHMBUS_SAGA_POSTGRES
  if (kind == "postgres") return postgres_url() != nullptr;
#endif
  return kind == "sqlite";
}

// Where a store of `kind` lives for one test: a file in `dir`, or a new database's URL.
inline std::string new_store_location(const std::string& kind, const std::string& dir) {
#ifdef SHMBUS_SAGA_POSTGRES
  if (kind == "postgres") {
    static std::atomic<int> counter{0};
    const std::string name = "saga_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    pqxx::connection c(postgres_url());
    pqxx::nontransaction w(c);
    w.exec("DROP DATABASE IF EXISTS " + name);
    w.exec("CREATE DATABASE " + name);
    std::string url = postgres_url();
    return url.substr(0, url.rfind('/') + 1) + name;
  }
#endif
  return dir + "/sagas.db";
}

inline std::shared_ptr<shmbus::saga::Store> open_store(const std::string& location) {
#ifdef SHMBUS_SAGA_POSTGRES
  if (location.starts_with("postgresql://")) return shmbus::saga::PostgresStore::open(location);
#endif
  return shmbus::saga::SqliteStore::open(location, {.full_sync = false});
}

}  // namespace saga_test
