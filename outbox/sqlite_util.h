// Small helpers of the SQLite store: errors that say what failed, statements that finalise
// themselves, the clock the tables' times are in.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "shmbus/error.h"

namespace shmbus::outbox::detail {

// Throws Error "<what>: <sqlite's message>" unless rc is one of the ok codes.
inline void check_sqlite(int rc, sqlite3* db, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return;
  std::string text = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  if (rc == SQLITE_BUSY) text += " (another connection held the write lock past busy_timeout)";
  throw Error(text, rc == SQLITE_CANTOPEN || rc == SQLITE_IOERR || rc == SQLITE_FULL ? ErrorKind::kIo
                                                                                        : ErrorKind::kGeneral);
}

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql) : db_(db) {
    check_sqlite(sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr), db,
                 "preparing " + std::string(sql.substr(0, 60)));
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt* get() const noexcept { return stmt_; }
  // sqlite3_step, throwing on an error; true while it gives rows.
  bool step(std::string_view what) {
    const int rc = sqlite3_step(stmt_);
    check_sqlite(rc, db_, what);
    return rc == SQLITE_ROW;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

inline void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
inline void bind_blob(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
inline std::string column_string(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  const int n = sqlite3_column_bytes(s, i);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

inline int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace shmbus::outbox::detail
