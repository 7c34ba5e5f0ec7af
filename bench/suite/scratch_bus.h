// A bus in a fresh directory for one measurement, removed afterwards.
#pragma once

#include <filesystem>
#include <string>

#include "shmbus/bus.h"

namespace shmbus::bench {

class ScratchBus {
 public:
  explicit ScratchBus(std::string path) : path_(std::move(path)), bus_(Bus::open(path_)) {}
  ~ScratchBus() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchBus(const ScratchBus&) = delete;
  ScratchBus& operator=(const ScratchBus&) = delete;
  const std::string& path() const { return path_; }
  Bus& bus() { return bus_; }
  // The peer process's own view of the same bus (opened after the fork, never created).
  Bus open_in_peer() const {
    BusOptions options;
    options.create = false;
    return Bus::open(path_, options);
  }

 private:
  std::string path_;
  Bus bus_;
};

}  // namespace shmbus::bench
