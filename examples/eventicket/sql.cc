#include "sql.h"

#include <stdexcept>

namespace eventicket {

void sql_each(sqlite3* db, std::string_view sql, const std::vector<SqlValue>& params,
              const std::function<void(sqlite3_stmt*)>& row) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK) {
    throw std::runtime_error("sqlite: " + std::string(sqlite3_errmsg(db)) + " in " + std::string(sql));
  }
  for (size_t i = 0; i < params.size(); ++i) {
    const int at = static_cast<int>(i + 1);
    if (const auto* n = std::get_if<int64_t>(&params[i])) {
      sqlite3_bind_int64(stmt, at, *n);
    } else {
      const std::string& s = std::get<std::string>(params[i]);
      sqlite3_bind_text(stmt, at, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
  }
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (row) row(stmt);
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) {
    throw std::runtime_error("sqlite: " + std::string(sqlite3_errmsg(db)) + " in " + std::string(sql));
  }
}

void sql_run(sqlite3* db, std::string_view sql, const std::vector<SqlValue>& params) {
  sql_each(db, sql, params, nullptr);
}

int64_t sql_int(sqlite3* db, std::string_view sql, const std::vector<SqlValue>& params, int64_t otherwise) {
  int64_t out = otherwise;
  bool first = true;
  sql_each(db, sql, params, [&](sqlite3_stmt* r) {
    if (first && sqlite3_column_type(r, 0) != SQLITE_NULL) out = sqlite3_column_int64(r, 0);
    first = false;
  });
  return out;
}

std::string column_text(sqlite3_stmt* row, int column) {
  const unsigned char* t = sqlite3_column_text(row, column);
  return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(row, column)))
           : std::string();
}

std::string sql_text(sqlite3* db, std::string_view sql, const std::vector<SqlValue>& params, std::string otherwise) {
  std::string out = std::move(otherwise);
  bool first = true;
  sql_each(db, sql, params, [&](sqlite3_stmt* r) {
    if (first && sqlite3_column_type(r, 0) != SQLITE_NULL) out = column_text(r, 0);
    first = false;
  });
  return out;
}

}  // namespace eventicket
