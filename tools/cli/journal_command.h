// `shmbus journal verify|recover|dump TOPIC` and `shmbus cursor ls|set|reset`: journal topics
// from the command line.
#pragma once

#include <cstdint>
#include <string>

#include "shmbus/bus.h"

namespace shmbus::cli {

// Prints the report; returns the exit code: 0 healthy (verify) or repaired (recover), 1 if not.
int run_journal(Bus& bus, const std::string& topic, bool repair);

// Prints the records from `from` up to the tail as it was when the dump began (at most `count`
// if non-zero), then stops. Returns the exit code.
int run_dump(Bus& bus, const std::string& topic, const std::string& from, uint64_t count, bool json);

// `cursor ls TOPIC` (name == ""), `cursor set TOPIC NAME WHERE`, `cursor reset TOPIC NAME`.
int run_cursor(Bus& bus, const std::string& action, const std::string& topic, const std::string& name,
               const std::string& where);

}  // namespace shmbus::cli
