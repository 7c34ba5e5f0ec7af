// The stores the saga tests run on: a SQLite file, or a fresh database in the PostgreSQL
// cluster of the outbox tests (tests/support/postgres_cluster.h: SHMBUS_POSTGRES_URL; without
// it the PostgreSQL cases skip).
#pragma once

#include <memory>
#include <string>

#include "shmbus/saga/sqlite_store.h"
#ifdef SHMBUS_SAGA_POSTGRES
#include "shmbus/saga/postgres_store.h"
#include "support/postgres_cluster.h"
#endif

namespace saga_test {

// Whether the store kind `kind` ("sqlite", "postgres") can run here.
inline bool available(const std::string& kind) {
#ifdef SHMBUS_SAGA_POSTGRES
  if (kind == "postgres") return !shmbus::test::postgres_url().empty();
#endif
  return kind == "sqlite";
}

// Where a store of `kind` lives for one test: a file in `dir`, or a new database's URL.
inline std::string new_store_location(const std::string& kind, const std::string& dir) {
#ifdef SHMBUS_SAGA_POSTGRES
  if (kind == "postgres") {
    return shmbus::test::replace_database(shmbus::test::postgres_url(), shmbus::test::create_database("saga"));
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
