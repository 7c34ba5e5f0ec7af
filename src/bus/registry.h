// The registry's protocol steps (layout and ordering: bus_files.h). Readers' steps are noexcept
// and allocate nothing; writers' steps REQUIRE the registry's file lock.
#pragma once

#include <cstdint>
#include <string_view>

#include "bus/bus_files.h"

namespace shmbus::bus {

inline constexpr uint32_t kNoEntry = ~0u;

// A whole copy of a Ready entry, taken without locking.
struct EntryCopy {
  uint64_t word = 0;  // the entry word the copy belongs to
  int64_t created_ns = 0;
  uint32_t kind = 0;
  uint32_t name_len = 0;
  char name_bytes[kNameWords * 8] = {};
  std::string_view name() const noexcept { return {name_bytes, name_len}; }
};

// Reader: the entry word. SYNC: registry entry (read) — acquire pairs with fill_entry()'s and
// tombstone_entry()'s release stores.
uint64_t load_entry_word(const RegistryEntry& e) noexcept;
// Reader: copies entry `e` if it is Ready and the copy is whole; else false with out.word the
// word seen (Empty, Writing, Removed, or a Ready word that changed under the copy).
bool read_entry(const RegistryEntry& e, EntryCopy& out) noexcept;
// Reader: entries [0, high_water) are worth looking at.
uint32_t load_high_water(const Registry& r) noexcept;
// Reader: the generation, bumped after every change. seq_cst: the doorbell's Dekker pair.
uint64_t load_generation(const Registry& r) noexcept;

// Writer: the Ready entry named `name`, or kNoEntry.
uint32_t find_entry(const Registry& r, std::string_view name) noexcept;
// Writer: the entry a new topic goes to: the lowest tombstone or never-used entry below the high
// water (reuse keeps the table compact), else the high water; kNoEntry if all kMaxTopics are Ready.
uint32_t free_entry(const Registry& r) noexcept;
// Writer: fills entry `index` (from free_entry()) and bumps the generation.
// REQUIRES: name.size() < kNameWords * 8.
void fill_entry(Registry& r, uint32_t index, std::string_view name, uint32_t kind, int64_t created_ns) noexcept;
// Writer: turns Ready entry `index` into a tombstone and bumps the generation.
void tombstone_entry(Registry& r, uint32_t index) noexcept;

}  // namespace shmbus::bus
