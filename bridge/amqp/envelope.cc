// bridge::amqp: the envelope mapping of envelope.h, both directions.
#include "bridge/amqp/envelope.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

namespace shmbus::bridge::amqp {
namespace {

struct TextProperty {
  std::string_view key;
  amqp_flags_t flag;
  amqp_bytes_t amqp_basic_properties_t::*field;
};
// user-id is handled apart (RabbitMQ validates it against the login).
constexpr TextProperty kTextProperties[] = {
    {"message-id", AMQP_BASIC_MESSAGE_ID_FLAG, &amqp_basic_properties_t::message_id},
    {"correlation-id", AMQP_BASIC_CORRELATION_ID_FLAG, &amqp_basic_properties_t::correlation_id},
    {"reply-to", AMQP_BASIC_REPLY_TO_FLAG, &amqp_basic_properties_t::reply_to},
    {"type", AMQP_BASIC_TYPE_FLAG, &amqp_basic_properties_t::type},
    {"content-type", AMQP_BASIC_CONTENT_TYPE_FLAG, &amqp_basic_properties_t::content_type},
    {"content-encoding", AMQP_BASIC_CONTENT_ENCODING_FLAG, &amqp_basic_properties_t::content_encoding},
    {"expiration", AMQP_BASIC_EXPIRATION_FLAG, &amqp_basic_properties_t::expiration},
    {"app-id", AMQP_BASIC_APP_ID_FLAG, &amqp_basic_properties_t::app_id},
};

template <class T>
bool parse_int(std::string_view s, T& out) noexcept {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool all_digits(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The kind x-amqp-kinds ("k=l,k2=F") gives `key`, or 0.
char kind_of(std::string_view kinds, std::string_view key) noexcept {
  while (!kinds.empty()) {
    const size_t comma = kinds.find(',');
    std::string_view item = kinds.substr(0, comma);
    kinds = comma == std::string_view::npos ? std::string_view() : kinds.substr(comma + 1);
    const size_t eq = item.rfind('=');
    if (eq != std::string_view::npos && item.substr(0, eq) == key && eq + 2 == item.size()) return item[eq + 1];
  }
  return 0;
}

amqp_bytes_t pool_copy(amqp_pool_t* pool, std::string_view s) {
  amqp_bytes_t b{s.size(), nullptr};
  b.bytes = amqp_pool_alloc(pool, s.size() + 1);
  if (b.bytes == nullptr) throw std::bad_alloc();
  std::memcpy(b.bytes, s.data(), s.size());
  return b;
}

amqp_field_value_t from_json(const nlohmann::json& j, amqp_pool_t* pool) {
  amqp_field_value_t v{};
  if (j.is_boolean()) {
    v.kind = AMQP_FIELD_KIND_BOOLEAN;
    v.value.boolean = j.get<bool>() ? 1 : 0;
  } else if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    v.kind = AMQP_FIELD_KIND_U64;
    v.value.u64 = j.get<uint64_t>();
  } else if (j.is_number_integer()) {
    v.kind = AMQP_FIELD_KIND_I64;
    v.value.i64 = j.get<int64_t>();
  } else if (j.is_number_float()) {
    v.kind = AMQP_FIELD_KIND_F64;
    v.value.f64 = j.get<double>();
  } else if (j.is_string()) {
    v.kind = AMQP_FIELD_KIND_UTF8;
    v.value.bytes = pool_copy(pool, j.get_ref<const std::string&>());
  } else if (j.is_array()) {
    v.kind = AMQP_FIELD_KIND_ARRAY;
    v.value.array.num_entries = static_cast<int>(j.size());
    v.value.array.entries = static_cast<amqp_field_value_t*>(amqp_pool_alloc(pool, sizeof(amqp_field_value_t) * (j.size() + 1)));
    int i = 0;
    for (const nlohmann::json& e : j) v.value.array.entries[i++] = from_json(e, pool);
  } else if (j.is_object()) {
    v.kind = AMQP_FIELD_KIND_TABLE;
    v.value.table.num_entries = static_cast<int>(j.size());
    v.value.table.entries = static_cast<amqp_table_entry_t*>(amqp_pool_alloc(pool, sizeof(amqp_table_entry_t) * (j.size() + 1)));
    int i = 0;
    for (auto it = j.begin(); it != j.end(); ++it, ++i) {
      v.value.table.entries[i].key = pool_copy(pool, it.key());
      v.value.table.entries[i].value = from_json(it.value(), pool);
    }
  } else {
    v.kind = AMQP_FIELD_KIND_VOID;
  }
  return v;
}

nlohmann::json to_json(const amqp_field_value_t& v) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_BOOLEAN: return v.value.boolean != 0;
    case AMQP_FIELD_KIND_I8: return v.value.i8;
    case AMQP_FIELD_KIND_U8: return v.value.u8;
    case AMQP_FIELD_KIND_I16: return v.value.i16;
    case AMQP_FIELD_KIND_U16: return v.value.u16;
    case AMQP_FIELD_KIND_I32: return v.value.i32;
    case AMQP_FIELD_KIND_U32: return v.value.u32;
    case AMQP_FIELD_KIND_I64: return v.value.i64;
    case AMQP_FIELD_KIND_U64: return v.value.u64;
    case AMQP_FIELD_KIND_TIMESTAMP: return v.value.u64;
    case AMQP_FIELD_KIND_F32: return v.value.f32;
    case AMQP_FIELD_KIND_F64: return v.value.f64;
    case AMQP_FIELD_KIND_DECIMAL: {
      double d = v.value.decimal.value;
      for (int i = 0; i < v.value.decimal.decimals; ++i) d /= 10;
      return d;
    }
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES: return std::string(as_view(v.value.bytes));
    case AMQP_FIELD_KIND_ARRAY: {
      nlohmann::json a = nlohmann::json::array();
      for (int i = 0; i < v.value.array.num_entries; ++i) a.push_back(to_json(v.value.array.entries[i]));
      return a;
    }
    case AMQP_FIELD_KIND_TABLE: {
      nlohmann::json o = nlohmann::json::object();
      for (int i = 0; i < v.value.table.num_entries; ++i) {
        o[std::string(as_view(v.value.table.entries[i].key))] = to_json(v.value.table.entries[i].value);
      }
      return o;
    }
    default: return nullptr;
  }
}

// The derived message-id's hash, 8 bytes a step in two independent chains (FNV-1a byte by byte
// was one multiply chain per byte: 1 us per KiB of body, as much as the rest of an inbound
// message costs). Each step: xor the word in, multiply by an odd constant (2^64 / golden ratio),
// fold the high bits down. The length goes in last, so "ab"+"c" differs from "a"+"bc".
constexpr uint64_t kMultiplier = 0x9e3779b97f4a7c15ull;

uint64_t mix(uint64_t h, uint64_t word) noexcept {
  h = (h ^ word) * kMultiplier;
  return h ^ (h >> 29);
}

uint64_t hash_bytes(uint64_t h, std::string_view s) noexcept {
  const char* p = s.data();
  size_t n = s.size();
  uint64_t other = ~h;
  for (; n >= 16; p += 16, n -= 16) {
    uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    h = mix(h, a);
    other = mix(other, b);
  }
  uint64_t tail[2] = {0, 0};
  if (n > 0) std::memcpy(tail, p, n);
  h = mix(mix(h, tail[0]), other);
  return mix(mix(h, tail[1]), s.size());
}

}  // namespace

Encoder::Encoder() {
  entries_.reserve(64);
  init_amqp_pool(&pool_, 4096);
}

Encoder::~Encoder() { empty_amqp_pool(&pool_); }

bool Encoder::set_property(std::string_view key, std::string_view value, std::string_view login_user) noexcept {
  amqp_basic_properties_t& p = props_;
  for (const TextProperty& t : kTextProperties) {
    if (key != t.key) continue;
    if ((p._flags & t.flag) != 0) return false;  // a second one travels in the table
    // RabbitMQ refuses an expiration that is not a whole number of ms (406, channel closed).
    if (t.flag == AMQP_BASIC_EXPIRATION_FLAG && !all_digits(value)) return false;
    p.*t.field = as_bytes(value);
    p._flags |= t.flag;
    return true;
  }
  if (key == "user-id") {
    if (value != login_user || (p._flags & AMQP_BASIC_USER_ID_FLAG) != 0) return false;
    p.user_id = as_bytes(value);
    p._flags |= AMQP_BASIC_USER_ID_FLAG;
    return true;
  }
  if (key == "timestamp" && (p._flags & AMQP_BASIC_TIMESTAMP_FLAG) == 0 && all_digits(value)) {
    if (!parse_int(value, p.timestamp)) return false;
    p._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
    return true;
  }
  if (key == "priority" && (p._flags & AMQP_BASIC_PRIORITY_FLAG) == 0 && all_digits(value)) {
    if (!parse_int(value, p.priority)) return false;
    p._flags |= AMQP_BASIC_PRIORITY_FLAG;
    return true;
  }
  if (key == "delivery-mode" && (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) == 0 && (value == "1" || value == "2")) {
    p.delivery_mode = static_cast<uint8_t>(value[0] - '0');
    p._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
    return true;
  }
  return false;
}

amqp_field_value_t Encoder::typed(std::string_view s, char kind, bool& ok) noexcept {
  amqp_field_value_t v{};
  v.kind = static_cast<uint8_t>(kind);
  switch (kind) {
    case AMQP_FIELD_KIND_BOOLEAN:
      ok = s == "true" || s == "false";
      v.value.boolean = s == "true";
      return v;
    case AMQP_FIELD_KIND_I8: ok = parse_int(s, v.value.i8); return v;
    case AMQP_FIELD_KIND_U8: ok = parse_int(s, v.value.u8); return v;
    case AMQP_FIELD_KIND_I16: ok = parse_int(s, v.value.i16); return v;
    case AMQP_FIELD_KIND_U16: ok = parse_int(s, v.value.u16); return v;
    case AMQP_FIELD_KIND_I32: ok = parse_int(s, v.value.i32); return v;
    case AMQP_FIELD_KIND_U32: ok = parse_int(s, v.value.u32); return v;
    case AMQP_FIELD_KIND_I64: ok = parse_int(s, v.value.i64); return v;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP: ok = parse_int(s, v.value.u64); return v;
    case AMQP_FIELD_KIND_F32:
    case AMQP_FIELD_KIND_F64: {
      char buf[64];
      if (s.empty() || s.size() >= sizeof buf) {
        ok = false;
        return v;
      }
      std::memcpy(buf, s.data(), s.size());
      buf[s.size()] = '\0';
      char* end = nullptr;
      const double d = std::strtod(buf, &end);
      ok = end == buf + s.size();
      if (kind == AMQP_FIELD_KIND_F32) {
        v.value.f32 = static_cast<float>(d);
      } else {
        v.value.f64 = d;
      }
      return v;
    }
    case AMQP_FIELD_KIND_DECIMAL: {  // "decimals:value"
      const size_t colon = s.find(':');
      ok = colon != std::string_view::npos && parse_int(s.substr(0, colon), v.value.decimal.decimals) &&
           parse_int(s.substr(colon + 1), v.value.decimal.value);
      return v;
    }
    case AMQP_FIELD_KIND_VOID: ok = s.empty(); return v;
    case AMQP_FIELD_KIND_BYTES:
      ok = true;
      v.value.bytes = as_bytes(s);
      return v;
    case AMQP_FIELD_KIND_TABLE:
    case AMQP_FIELD_KIND_ARRAY:
      try {  // the rare, allocating path: a table or array a sender gave us inbound
        const nlohmann::json j = nlohmann::json::parse(s);
        ok = (kind == AMQP_FIELD_KIND_TABLE) ? j.is_object() : j.is_array();
        if (ok) v = from_json(j, &pool_);
      } catch (...) {
        ok = false;
      }
      return v;
    default: ok = false; return v;
  }
}

const amqp_basic_properties_t& Encoder::encode(const OutgoingMessage& m, std::string_view login_user) noexcept {
  props_ = amqp_basic_properties_t{};
  entries_.clear();
  recycle_amqp_pool(&pool_);
  const std::string_view kinds = m.headers.find(kKindsHeader).value_or(std::string_view());
  for (const Header h : m.headers) {
    if (h.key == kKindsHeader || (h.key == kOriginHeader && !m.origin.empty()) ||
        set_property(h.key, h.value, login_user)) {
      continue;
    }
    amqp_table_entry_t e{};
    e.key = as_bytes(h.key);
    const char kind = kinds.empty() ? 0 : kind_of(kinds, h.key);
    bool ok = false;
    if (kind != 0 && kind != AMQP_FIELD_KIND_UTF8) e.value = typed(h.value, kind, ok);
    if (!ok) {
      e.value.kind = AMQP_FIELD_KIND_UTF8;
      e.value.value.bytes = as_bytes(h.value);
    }
    entries_.push_back(e);  // within the reserved capacity unless a message has > 64 headers
  }
  if (!m.origin.empty()) {  // after the record's own headers: a copy it carried is replaced
    amqp_table_entry_t e{};
    e.key = as_bytes(kOriginHeader);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = as_bytes(m.origin);
    entries_.push_back(e);
  }
  if ((props_._flags & AMQP_BASIC_MESSAGE_ID_FLAG) == 0) {
    props_.message_id = as_bytes(m.message_id);
    props_._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
  }
  if ((props_._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) == 0) {
    props_.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    props_._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
  }
  if (!entries_.empty()) {
    props_.headers = {static_cast<int>(entries_.size()), entries_.data()};
    props_._flags |= AMQP_BASIC_HEADERS_FLAG;
  }
  return props_;
}

void Decoder::add(std::string_view key, std::string_view value) {
  Range r{arena_.size(), key.size(), 0, value.size()};
  arena_.append(key);
  r.value = arena_.size();
  arena_.append(value);
  ranges_.push_back(r);
}

void Decoder::add_field(std::string_view key, const amqp_field_value_t& v) {
  char buf[64];
  int n = -1;
  switch (v.kind) {
    case AMQP_FIELD_KIND_UTF8: add(key, as_view(v.value.bytes)); return;
    case AMQP_FIELD_KIND_BYTES: add(key, as_view(v.value.bytes)); break;
    case AMQP_FIELD_KIND_BOOLEAN: add(key, v.value.boolean != 0 ? "true" : "false"); break;
    case AMQP_FIELD_KIND_I8: n = std::snprintf(buf, sizeof buf, "%d", v.value.i8); break;
    case AMQP_FIELD_KIND_U8: n = std::snprintf(buf, sizeof buf, "%u", v.value.u8); break;
    case AMQP_FIELD_KIND_I16: n = std::snprintf(buf, sizeof buf, "%d", v.value.i16); break;
    case AMQP_FIELD_KIND_U16: n = std::snprintf(buf, sizeof buf, "%u", v.value.u16); break;
    case AMQP_FIELD_KIND_I32: n = std::snprintf(buf, sizeof buf, "%d", v.value.i32); break;
    case AMQP_FIELD_KIND_U32: n = std::snprintf(buf, sizeof buf, "%u", v.value.u32); break;
    case AMQP_FIELD_KIND_I64: n = std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v.value.i64)); break;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
      n = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v.value.u64));
      break;
    case AMQP_FIELD_KIND_F32: n = std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v.value.f32)); break;
    case AMQP_FIELD_KIND_F64: n = std::snprintf(buf, sizeof buf, "%.17g", v.value.f64); break;
    case AMQP_FIELD_KIND_DECIMAL:
      n = std::snprintf(buf, sizeof buf, "%u:%u", v.value.decimal.decimals, v.value.decimal.value);
      break;
    case AMQP_FIELD_KIND_VOID: add(key, ""); break;
    case AMQP_FIELD_KIND_TABLE:
    case AMQP_FIELD_KIND_ARRAY:
      add(key, to_json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      break;
    default: add(key, ""); break;
  }
  if (n >= 0) add(key, std::string_view(buf, static_cast<size_t>(n)));
  if (!kinds_.empty()) kinds_ += ',';
  kinds_.append(key);
  kinds_ += '=';
  kinds_ += static_cast<char>(v.kind);
}

std::span<const Header> Decoder::decode(const amqp_basic_properties_t& p, amqp_bytes_t body, amqp_bytes_t exchange,
                                        amqp_bytes_t routing_key, bool redelivered) {
  arena_.clear();
  ranges_.clear();
  headers_.clear();
  kinds_.clear();
  message_id_ = SIZE_MAX;
  for (const TextProperty& t : kTextProperties) {
    if ((p._flags & t.flag) == 0) continue;
    if (t.flag == AMQP_BASIC_MESSAGE_ID_FLAG) message_id_ = ranges_.size();
    add(t.key, as_view(p.*t.field));
  }
  if ((p._flags & AMQP_BASIC_USER_ID_FLAG) != 0) add("user-id", as_view(p.user_id));
  if ((p._flags & AMQP_BASIC_TIMESTAMP_FLAG) != 0) add("timestamp", std::to_string(p.timestamp));
  if ((p._flags & AMQP_BASIC_PRIORITY_FLAG) != 0) add("priority", std::to_string(p.priority));
  if ((p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) != 0 && p.delivery_mode != AMQP_DELIVERY_PERSISTENT) {
    add("delivery-mode", std::to_string(p.delivery_mode));
  }
  if ((p._flags & AMQP_BASIC_HEADERS_FLAG) != 0) {
    for (int i = 0; i < p.headers.num_entries; ++i) {
      const amqp_table_entry_t& e = p.headers.entries[i];
      if (as_view(e.key) == kKindsHeader) continue;  // ours, from another bridge: recomputed here
      add_field(as_view(e.key), e.value);
    }
  }
  if (!kinds_.empty()) add(kKindsHeader, kinds_);
  if (message_id_ == SIZE_MAX) {
    uint64_t h = 14695981039346656037ull;
    h = hash_bytes(h, as_view(exchange));
    h = hash_bytes(h, as_view(routing_key));
    h = hash_bytes(h, arena_);  // every header so far, keys and values
    h = hash_bytes(h, as_view(body));
    char id[32];
    const int n = std::snprintf(id, sizeof id, "amqp-%016llx", static_cast<unsigned long long>(h));
    message_id_ = ranges_.size();
    add("message-id", std::string_view(id, static_cast<size_t>(n)));
  }
  if (redelivered) add(kRedeliveredHeader, "true");
  for (const Range& r : ranges_) {
    headers_.push_back({std::string_view(arena_).substr(r.key, r.key_len), std::string_view(arena_).substr(r.value, r.value_len)});
  }
  return headers_;
}

std::string_view Decoder::message_id() const noexcept {
  return message_id_ < headers_.size() ? headers_[message_id_].value : std::string_view();
}

}  // namespace shmbus::bridge::amqp
