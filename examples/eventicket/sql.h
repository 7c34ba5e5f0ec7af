// A few lines over sqlite3's C API for the example's own tables: statements with bound
// parameters (never text pasted into SQL), one row or a column of rows back.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace eventicket {

using SqlValue = std::variant<int64_t, std::string>;

// Runs `sql` with `params` bound to ?1, ?2, ...; calls `row` for each result row. Throws
// std::runtime_error with SQLite's message (the caller's transaction then rolls back).
void sql_each(sqlite3* db, std::string_view sql, const std::vector<SqlValue>& params,
              const std::function<void(sqlite3_stmt*)>& row);
void sql_run(sqlite3* db, std::string_view sql, const std::vector<SqlValue>& params = {});
// The first column of the first row (`otherwise` if there is none, or it is NULL).
int64_t sql_int(sqlite3* db, std::string_view sql, const std::vector<SqlValue>& params = {}, int64_t otherwise = 0);
std::string sql_text(sqlite3* db, std::string_view sql, const std::vector<SqlValue>& params = {},
                     std::string otherwise = "");
std::string column_text(sqlite3_stmt* row, int column);

}  // namespace eventicket
