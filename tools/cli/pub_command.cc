// `shmbus pub TOPIC [MESSAGE] [--header k=v ...]`: one message, or one per line of stdin.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <vector>

#include "command.h"
#include "stop_signal.h"

namespace shmbus::cli {
namespace {

struct PubOptions {
  std::string topic;
  std::string message;
  bool have_message = false;
  std::vector<std::string> header_specs;  // key=value; the Headers below point into these
};

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

int run_pub(const Context& ctx, const PubOptions& o) {
  catch_stop_signals();
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
  pub->callback([&ctx, o] { ctx.run = [&ctx, o] { return run_pub(ctx, *o); }; });
}

}  // namespace shmbus::cli
