// The registry's protocol steps: one function per step (layout and ordering: bus_files.h).
#include "bus/registry.h"

#include <cstring>

#include "base/kill_point.h"

namespace shmbus::bus {
namespace {

// The payload is only ever accessed through atomic_ref: a reader may copy it while a filler
// rewrites a reused entry (the word tells the reader to drop such a copy).
template <class T>
T load_payload(const T& field) noexcept {
  // Acquire: the reader's second load of the word must come after this one (bus_files.h, step 2).
  // SYNC: registry payload (read) — pairs with store_payload().
  return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_acquire);
}

template <class T>
void store_payload(T& field, T value) noexcept {
  // Release: a reader that sees this value also sees the Writing word stored before it (step b).
  // SYNC: registry payload (fill) — pairs with load_payload().
  std::atomic_ref<T>(field).store(value, std::memory_order_release);
}

void bump_generation(Registry& r) noexcept {
  // seq_cst: the doorbell's Dekker pair (base/futex.h) — a pattern subscriber going to sleep
  // re-checks the generation with seq_cst after registering as a sleeper. Also a release of
  // the entry word stored before it. SYNC: registry generation (bump) — pairs with load_generation().
  r.generation.fetch_add(1, std::memory_order_seq_cst);
}

}  // namespace

uint64_t load_entry_word(const RegistryEntry& e) noexcept {
  // SYNC: registry entry (read) — pairs with the release stores in fill_entry() / tombstone_entry().
  return e.word.load(std::memory_order_acquire);
}

uint32_t load_high_water(const Registry& r) noexcept {
  // Acquire: pairs with the release in fill_entry(): entries below it have had their word written.
  const uint32_t n = r.high_water.load(std::memory_order_acquire);
  return n < kMaxTopics ? n : kMaxTopics;  // a damaged file never sends a scan out of bounds
}

uint64_t load_generation(const Registry& r) noexcept {
  // SYNC: registry generation (read) — pairs with bump_generation(); seq_cst for the doorbell.
  return r.generation.load(std::memory_order_seq_cst);
}

bool read_entry(const RegistryEntry& e, EntryCopy& out) noexcept {
  out.word = load_entry_word(e);  // step 1
  if (entry_state(out.word) != kEntryReady) return false;
  out.created_ns = load_payload(e.created_ns);  // step 2
  out.kind = load_payload(e.kind);
  const uint32_t len = load_payload(e.name_len);
  uint64_t words[kNameWords];
  for (size_t i = 0; i < kNameWords; ++i) words[i] = load_payload(e.name[i]);
  const uint64_t again = load_entry_word(e);  // step 3
  if (again != out.word) {
    out.word = again;  // refilled or removed under us: not a topic we can name
    return false;
  }
  // A damaged length is clamped: never past the name field.
  out.name_len = len < sizeof out.name_bytes ? len : 0;
  std::memcpy(out.name_bytes, words, sizeof out.name_bytes);
  return out.name_len != 0;
}

uint32_t find_entry(const Registry& r, std::string_view name) noexcept {
  const uint32_t n = load_high_water(r);
  EntryCopy copy;
  for (uint32_t i = 0; i < n; ++i) {
    if (read_entry(r.entries[i], copy) && copy.name() == name) return i;
  }
  return kNoEntry;
}

uint32_t free_entry(const Registry& r) noexcept {
  const uint32_t n = load_high_water(r);
  for (uint32_t i = 0; i < n; ++i) {
    const uint64_t state = entry_state(load_entry_word(r.entries[i]));
    // A Writing entry below the high water is one whose filler died mid-way: reuse it too.
    if (state != kEntryReady) return i;
  }
  return n < kMaxTopics ? n : kNoEntry;
}

void fill_entry(Registry& r, uint32_t index, std::string_view name, uint32_t kind, int64_t created_ns) noexcept {
  RegistryEntry& e = r.entries[index];
  // Relaxed: we hold the lock, so nobody else writes the word; the release stores below publish it.
  const uint64_t before = e.word.load(std::memory_order_relaxed);
  const uint64_t writing = next_entry_word(before, kEntryWriting);
  // Relaxed: ordered before the payload by their release stores (bus_files.h, step a).
  e.word.store(writing, std::memory_order_relaxed);
  SHMBUS_KILL_POINT("registry.fill.after_writing");
  uint64_t words[kNameWords] = {};
  std::memcpy(words, name.data(), name.size());
  store_payload(e.created_ns, created_ns);  // step b
  store_payload(e.kind, kind);
  store_payload(e.name_len, static_cast<uint32_t>(name.size()));
  for (size_t i = 0; i < kNameWords; ++i) store_payload(e.name[i], words[i]);
  // SYNC: registry entry (fill) — release publishes the payload; pairs with load_entry_word().
  e.word.store(next_entry_word(writing, kEntryReady), std::memory_order_release);  // step c
  if (index >= r.high_water.load(std::memory_order_relaxed)) {
    // Release: a scanner that sees the new high water sees this entry's word (load_high_water()).
    r.high_water.store(index + 1, std::memory_order_release);
  }
  // Relaxed: statistics, written under the lock only.
  r.live.store(r.live.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  bump_generation(r);
}

void tombstone_entry(Registry& r, uint32_t index) noexcept {
  RegistryEntry& e = r.entries[index];
  // Relaxed: we hold the lock; nobody else writes the word.
  const uint64_t before = e.word.load(std::memory_order_relaxed);
  // SYNC: registry entry (remove) — release; pairs with load_entry_word(). The payload stays as
  // it was: a reader that copied it before this store sees the word change at its step 3.
  e.word.store(next_entry_word(before, kEntryRemoved), std::memory_order_release);
  SHMBUS_KILL_POINT("registry.remove.after_tombstone");
  const uint32_t live = r.live.load(std::memory_order_relaxed);  // relaxed: statistics, under the lock
  r.live.store(live > 0 ? live - 1 : 0, std::memory_order_relaxed);
  bump_generation(r);
}

}  // namespace shmbus::bus
