// The PostgreSQL cluster the outbox and saga tests run against: SHMBUS_POSTGRES_URL
// (tools/postgres_node.sh start DIR; . DIR/env; tools/test.sh starts one). Without it the
// PostgreSQL cases skip. Each test makes a database of its own in it.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include <pqxx/pqxx>

namespace shmbus::test {

// The cluster's URL, or "" if none is set.
inline std::string postgres_url() {
  const char* url = std::getenv("SHMBUS_POSTGRES_URL");
  return url ? url : "";
}

// `url` with its database name replaced by `db`.
inline std::string replace_database(const std::string& url, const std::string& db) {
  return url.substr(0, url.rfind('/') + 1) + db;
}

// A new, empty database in the cluster, named `prefix`_<pid>_<n>: its name.
inline std::string create_database(const std::string& prefix) {
  static std::atomic<int> counter{0};
  const std::string name = prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  pqxx::connection admin(postgres_url());
  pqxx::nontransaction n(admin);
  n.exec0("DROP DATABASE IF EXISTS " + name);
  n.exec0("CREATE DATABASE " + name);
  return name;
}

// Drops a database made by create_database (its connections closed by force).
inline void drop_database(const std::string& name) {
  pqxx::connection admin(postgres_url());
  pqxx::nontransaction n(admin);
  n.exec0("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
}

}  // namespace shmbus::test
