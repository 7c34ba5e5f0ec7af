// `shmbus journal verify|recover TOPIC`: the segment directory of a journal topic, checked.
#pragma once

#include <string>

#include "shmbus/bus.h"

namespace shmbus::cli {

// Prints the report; returns the exit code: 0 healthy (verify) or repaired (recover), 1 if not.
int run_journal(Bus& bus, const std::string& topic, bool repair);

}  // namespace shmbus::cli
