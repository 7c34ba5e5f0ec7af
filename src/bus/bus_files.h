// The bus directory's own files: bus.meta and the registry of topics.
//
//   <bus>/bus.meta   FileHeader | created_ns | topic defaults | doorbell (pattern subscribers' futex)
//   <bus>/registry   the table below
//
// THE REGISTRY. One fixed table of entries; an entry is a slot that topics come and go through:
// created -> removed (a tombstone) -> reused by a later creation. So the table caps the topics
// that exist at one time (kMaxTopics), never the topics a bus sees over its life.
//
//   0          32        128                136          140    144        256
//   +----------+- - - - -+------------------+------------+------+- - - - - -+------------ - - -
//   | FileHdr  | (pad)   | generation (u64) | high_water | live | (pad)      | RegistryEntry[kMaxTopics]
//   +----------+- - - - -+------------------+------------+------+- - - - - -+ 256 bytes each
//
//   RegistryEntry (256 bytes)
//   0            8             16      20          24                                   256
//   +------------+-------------+-------+-----------+--------------- - - - -------------+
//   | ENTRY WORD | created_ns  | kind  | name_len  | name (kNameWords x 8 bytes, NUL-padded)
//   +------------+-------------+-------+-----------+--------------- - - - -------------+
//
// The ENTRY WORD is the entry's commit word: state in bits 0..1, a version in bits 2..63 that
// goes up by one on every change of the word (it never wraps: 2^62 changes), so a reader that
// kept the word it saw knows, by comparing 64 bits, whether the entry changed since.
//   kEntryEmpty    never used (the file is zero-filled)
//   kEntryWriting  being (re)filled; the payload fields are not to be trusted
//   kEntryReady    created_ns, kind, name_len, name describe a live topic
//   kEntryRemoved  a tombstone: the topic that was here has been removed; free for reuse
//
// Writers (create, remove, reconcile) hold the registry's file lock: there is one at a time.
//   fill:   word Empty|Removed(v) -> Writing(v+1) relaxed -> payload stores (release) ->
//           word Ready(v+2) release -> generation += 1 (seq_cst) -> ring the doorbell
//   remove: word Ready(v) -> Removed(v+1) release -> generation += 1 (seq_cst) -> doorbell
// Readers never lock. They load `generation`, then each entry word [0, high_water) with acquire;
// for a Ready word they copy the payload with acquire loads and load the word again: equal
// means the copy is whole (a seqlock whose data words are atomics, so no fence is needed):
//   1. reader loads word == Ready(v)        a. writer stores Writing(v+1)
//   2. reader copies the payload            b. writer stores the payload with release
//   3. reader loads word again              c. writer stores Ready(v+2)
// If any load in 2 saw a store of b, that load synchronises with it, a happens-before 3, and 3
// sees Writing(v+1) or later: the reader drops the copy. If none did, the copy is entry v's.
// A reader that saw Writing waits for the generation to move: c is followed by a bump.
//
// `high_water` only grows: entries [high_water, kMaxTopics) have never been used, so scans stop
// there. `live` counts Ready entries (statistics; written under the lock).
// Protocol spec: docs/format.md section 4.3-4.4.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "base/futex.h"
#include "log/file_header.h"
#include "log/record_format.h"

namespace shmbus::bus {

inline constexpr uint32_t kMaxTopics = 4096;  // topics that exist at one time (not over the bus's life)

inline constexpr uint64_t kEntryEmpty = 0;
inline constexpr uint64_t kEntryReady = 1;
inline constexpr uint64_t kEntryRemoved = 2;
inline constexpr uint64_t kEntryWriting = 3;
inline constexpr uint64_t kEntryStateMask = 3;
inline constexpr unsigned kEntryVersionShift = 2;

constexpr uint64_t entry_state(uint64_t word) noexcept { return word & kEntryStateMask; }
constexpr uint64_t entry_version(uint64_t word) noexcept { return word >> kEntryVersionShift; }
// The word after `word` with `state`: one version up.
constexpr uint64_t next_entry_word(uint64_t word, uint64_t state) noexcept {
  return ((entry_version(word) + 1) << kEntryVersionShift) | state;
}

struct BusMeta {
  log::FileHeader file;
  int64_t created_ns;
  uint64_t default_capacity;
  uint32_t default_policy;
  uint32_t reserved;
  uint64_t default_unblock_timeout_ms;
  uint64_t default_subscriber_timeout_ms;
  // Pattern subscribers sleep here: they cover many topics and a futex waits on one word.
  base::Wakeup doorbell;
};

inline constexpr size_t kNameWords = 29;  // 232 bytes: a topic name (<= 200) and its NUL padding

struct RegistryEntry {
  std::atomic<uint64_t> word;  // the ENTRY WORD (state | version << 2)
  // Payload: written by the filler with release stores, read with acquire loads, all through
  // std::atomic_ref (a reader may copy them while a filler rewrites a reused entry).
  int64_t created_ns;  // the topic's meta config.created_ns: tells two topics of one name apart
  uint32_t kind;       // TopicKind
  uint32_t name_len;
  uint64_t name[kNameWords];
};
static_assert(sizeof(RegistryEntry) == 256);
static_assert(offsetof(RegistryEntry, created_ns) == 8 && offsetof(RegistryEntry, kind) == 16 &&
              offsetof(RegistryEntry, name_len) == 20 && offsetof(RegistryEntry, name) == 24);
static_assert(std::is_standard_layout_v<RegistryEntry>);
static_assert(std::atomic<uint64_t>::is_always_lock_free && std::atomic_ref<uint64_t>::is_always_lock_free &&
              std::atomic_ref<uint32_t>::is_always_lock_free && std::atomic_ref<int64_t>::is_always_lock_free);

struct Registry {
  log::FileHeader file;
  alignas(log::kHotPad) std::atomic<uint64_t> generation;  // bumped after each fill and removal
  std::atomic<uint32_t> high_water;  // entries [0, high_water) have ever been used
  std::atomic<uint32_t> live;        // entries that are Ready (statistics)
  alignas(log::kHotPad) RegistryEntry entries[kMaxTopics];
};
static_assert(offsetof(Registry, generation) == 128 && offsetof(Registry, high_water) == 136 &&
              offsetof(Registry, live) == 140 && offsetof(Registry, entries) == 256);
static_assert(sizeof(Registry) == 256 + kMaxTopics * sizeof(RegistryEntry));
static_assert(std::is_standard_layout_v<Registry>);

}  // namespace shmbus::bus
