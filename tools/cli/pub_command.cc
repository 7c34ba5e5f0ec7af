// `shmbus pub TOPIC [MESSAGE] [--header k=v ...]`: one message, or one per line of stdin.
#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>
#include <optional>
#include <memory>
#include <vector>

#include "cli_output.h"
#include "command.h"
#include "shmbus/envelope.h"
#include "stop_signal.h"

namespace shmbus::cli {
namespace {

struct PubOptions {
  std::string topic;
  std::string message;
  bool have_message = false;
  std::vector<std::string> header_specs;  // key=value; the Headers below point into these
  std::string delay, at, ttl, message_id, key;
};

// The envelope options as key=value specs (the Headers point into the strings they return).
void add_envelope_headers(PubOptions& o) {
  const auto now = std::chrono::system_clock::now();
  auto later = [&](const std::string& text, const char* option) {
    return envelope::format_time(now + std::chrono::duration_cast<std::chrono::system_clock::duration>(parse_duration(text, option)));
  };
  if (!o.delay.empty() && !o.at.empty()) throw Error("give --delay or --at, not both", ErrorKind::kInvalidArgument);
  if (!o.delay.empty()) o.header_specs.push_back(std::string(header_keys::kNotBefore) + "=" + later(o.delay, "--delay"));
  if (!o.at.empty()) {
    const std::optional<int64_t> ns = envelope::parse_time_ns(o.at);
    if (!ns) throw Error("--at takes 2026-12-01T12:00:00Z (UTC) or Unix milliseconds, got \"" + o.at + "\"", ErrorKind::kInvalidArgument);
    o.header_specs.push_back(std::string(header_keys::kNotBefore) + "=" +
                             envelope::format_time(std::chrono::system_clock::time_point(
                                 std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(*ns)))));
  }
  if (!o.ttl.empty()) o.header_specs.push_back(std::string(header_keys::kExpiresAt) + "=" + later(o.ttl, "--ttl"));
  if (!o.message_id.empty()) o.header_specs.push_back(std::string(header_keys::kMessageId) + "=" + o.message_id);
  if (!o.key.empty()) o.header_specs.push_back(std::string(header_keys::kKey) + "=" + o.key);
}

std::vector<Header> parse_headers(const std::vector<std::string>& specs) {
  std::vector<Header> headers;
  for (const std::string& s : specs) {
    const size_t eq = s.find('=');
    if (eq == std::string::npos) throw Error("--header takes key=value, got \"" + s + "\"", ErrorKind::kInvalidArgument);
    headers.push_back({std::string_view(s).substr(0, eq), std::string_view(s).substr(eq + 1)});
  }
  return headers;
}

void publish_one(Publisher& publisher, const std::string& text, const std::vector<Header>& headers) {
  Result<uint64_t> r = publisher.try_publish(std::as_bytes(std::span(text.data(), text.size())), headers);
  if (!r && r.error() == Errc::kWouldBlock) {
    // A full `block` topic: publish() waits for the slowest subscriber (evicting dead ones)
    // inside the library, where no flag is checked; nothing is claimed while it waits, so a
    // stop signal may end the process there.
    ExitOnStopSignal exit_on_signal;
    r = publisher.publish(text, headers);
  }
  if (!r) throw Error("publish failed: " + publisher.explain(r.error()));
}

int run_pub(const Context& ctx, PubOptions& o) {
  catch_stop_signals();
  add_envelope_headers(o);
  const std::vector<Header> headers = parse_headers(o.header_specs);
  Bus bus = ctx.open_bus();
  Publisher publisher = bus.publisher(o.topic);
  if (o.have_message) {
    publish_one(publisher, o.message, headers);
  } else {
    // A stop signal interrupts the read (EINTR: no SA_RESTART), so getline fails and the loop ends.
    for (std::string line; !stop_requested() && std::getline(std::cin, line);) publish_one(publisher, line, headers);
  }
  return stop_exit_code();
}

}  // namespace

void add_pub_command(CLI::App& app, Context& ctx) {
  CLI::App* pub = app.add_subcommand("pub", "publish a message (or one per stdin line)");
  auto o = std::make_shared<PubOptions>();
  pub->add_option("TOPIC", o->topic)->required();
  pub->add_option("MESSAGE", o->message)->each([o](const std::string&) { o->have_message = true; });
  pub->add_option("--header", o->header_specs, "key=value (repeatable)");
  pub->add_option("--delay", o->delay, "not-before: queues deliver it this much later (10s, 5m)");
  pub->add_option("--at", o->at, "not-before at a time: 2026-12-01T12:00:00Z (UTC) or Unix milliseconds");
  pub->add_option("--ttl", o->ttl, "expires-at: queues dead-letter (or drop) it if not delivered within this");
  pub->add_option("--message-id", o->message_id, "the message-id header (dedup, replay, cancel)");
  pub->add_option("--key", o->key, "the key header (per-key ordering)");
  pub->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_pub(ctx, *o); }; });
}

}  // namespace shmbus::cli
