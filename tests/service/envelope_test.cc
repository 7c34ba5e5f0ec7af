// The envelope's parts: message ids, trace context, type headers, a flow continued.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "messages.h"
#include "service/sender.h"
#include "shmbus/envelope.h"

namespace shmbus::service {
namespace {

// An envelope's headers, encoded as a record carries them.
std::vector<std::byte> block_of(const Envelope& e) {
  const std::vector<Header> headers = e.headers();
  std::vector<std::byte> block(encoded_headers_size(headers));
  encode_headers(headers, block);
  return block;
}

// A request's envelope with every optional field set too.
Envelope every_field_envelope() {
  Envelope e = Envelope::start(message_type_of<shop::GetOrderStatus>(), "client");
  e.reply_to = "replies.x";
  e.expires_at = "2030-01-01T00:00:00.000Z";
  e.tracestate = "a=b";
  e.not_before = "2030-01-01T00:00:00.000Z";
  return e;
}

TEST(MessageId, IsAUuidVersion7) {
  const std::string sut = new_message_id();

  ASSERT_EQ(sut.size(), 36u);
  EXPECT_EQ(sut[14], '7');
  EXPECT_TRUE(std::string("89ab").find(sut[19]) != std::string::npos) << sut;  // variant 10
}

TEST(MessageId, IsUniqueAndOrderedWithinAProcessAcrossThreads) {
  constexpr int kPerThread = 20000;
  std::vector<std::vector<std::string>> ids(4);
  std::vector<std::thread> threads;
  for (auto& v : ids) {
    threads.emplace_back([&v] {
      for (int i = 0; i < kPerThread; ++i) v.push_back(new_message_id());
    });
  }
  for (auto& t : threads) t.join();

  std::set<std::string> all;
  for (const auto& v : ids) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));  // one thread's ids in the order made
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), 4u * kPerThread);
}

TEST(MessageId, CarriesItsTime) {
  const auto before = std::chrono::system_clock::now() - std::chrono::milliseconds(1);

  const auto t = message_id_time(new_message_id());

  ASSERT_TRUE(t.has_value());
  EXPECT_GE(*t, before);
  EXPECT_LE(*t, std::chrono::system_clock::now());
  EXPECT_FALSE(message_id_time("not-an-id").has_value());
}

TEST(MessageId, AForkedChildDoesNotRepeatItsParentsIds) {
  (void)new_message_id();  // seeds this thread's generator in the parent
  int pipe_fd[2];
  ASSERT_EQ(::pipe(pipe_fd), 0);
  const pid_t child = shmbus::test::spawn([&] {
    const std::string id = new_message_id();
    return ::write(pipe_fd[1], id.data(), id.size()) == 36 ? 0 : 1;
  });
  const std::string mine = new_message_id();
  char theirs[36];
  ASSERT_EQ(::read(pipe_fd[0], theirs, 36), 36);
  EXPECT_EQ(shmbus::test::wait_child(child), 0);

  EXPECT_NE(mine.substr(19), std::string(theirs + 19, 17));  // random parts differ
}

TEST(TraceContext, ParsesAValidTraceparent) {
  const auto sut = TraceContext::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

  ASSERT_TRUE(sut.has_value());
  EXPECT_EQ(sut->trace_id, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(sut->span_id, "b7ad6b7169203331");
  EXPECT_EQ(sut->flags, 1);
  EXPECT_EQ(sut->to_string(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
}

TEST(TraceContext, RefusesMalformedOnes) {
  for (const char* bad : {"", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
                          "00-00000000000000000000000000000000-b7ad6b7169203331-01",
                          "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
                          "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                          "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
                          "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra"}) {
    EXPECT_FALSE(TraceContext::parse(bad).has_value()) << bad;
  }
}

TEST(TraceContext, AChildKeepsTheTraceWithANewSpan) {
  const TraceContext parent = TraceContext::start();

  const TraceContext sut = parent.child();

  EXPECT_EQ(sut.trace_id, parent.trace_id);
  EXPECT_NE(sut.span_id, parent.span_id);
  EXPECT_TRUE(TraceContext::parse(sut.to_string()).has_value());
}

TEST(TraceContext, HeadersAloneAreWhatTheContextsWrite) {
  for (const char* parent : {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                             "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
                             "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03-future-fields"}) {
    const std::string sut = TraceContext::child_header(parent);

    const auto read = TraceContext::parse(sut);
    const auto was = TraceContext::parse(parent);
    ASSERT_TRUE(read.has_value() && was.has_value()) << sut;
    EXPECT_EQ(sut.substr(0, 3), "00-");  // written as version 00, as to_string() does
    EXPECT_EQ(read->trace_id, was->trace_id);
    EXPECT_EQ(read->flags, was->flags);
    EXPECT_NE(read->span_id, was->span_id);
    EXPECT_EQ(sut, (TraceContext{was->trace_id, read->span_id, was->flags}.to_string()));
  }
  EXPECT_EQ(TraceContext::child_header("00-00000000000000000000000000000000-b7ad6b7169203331-01"), "");
  EXPECT_EQ(TraceContext::child_header("garbage"), "");
  std::set<std::string> traces;
  for (int i = 0; i < 1000; ++i) {
    const auto started = TraceContext::parse(TraceContext::start_header());
    ASSERT_TRUE(started.has_value());
    EXPECT_EQ(started->flags, 1);
    traces.insert(started->trace_id);
  }
  EXPECT_EQ(traces.size(), 1000u);
}

TEST(TypeHeader, SplitsNameAndVersion) {
  const auto sut = parse_type_header("sales.OrderPlaced@12");

  ASSERT_TRUE(sut.has_value());
  EXPECT_EQ(sut->name, "sales.OrderPlaced");
  EXPECT_EQ(sut->version, 12u);
  for (const char* bad : {"OrderPlaced", "OrderPlaced@", "@2", "OrderPlaced@0", "OrderPlaced@2x", "OrderPlaced@-1"}) {
    EXPECT_FALSE(parse_type_header(bad).has_value()) << bad;
  }
}

TEST(MessageTraits, RegisteredTypesKnowTheirNameVersionKindAndTopic) {
  const MessageType sut = message_type_of<shop::OrderPlaced>();

  EXPECT_EQ(sut.type_header(), "OrderPlaced@2");
  EXPECT_EQ(sut.kind, MessageKind::kEvent);
  EXPECT_EQ(event_topic(sut), "events.OrderPlaced");
  EXPECT_EQ(message_type_of<Fault<shop::OrderPlaced>>().type_header(), "Fault<OrderPlaced>@2");
  EXPECT_EQ(event_topic(message_type_of<Fault<shop::OrderPlaced>>()), "events.Fault.OrderPlaced");
  EXPECT_EQ(command_topic("inventory"), "commands.inventory");
}

TEST(Envelope, StartBeginsAFlowAndCausedByContinuesIt) {
  const Envelope first = Envelope::start(message_type_of<shop::OrderPlaced>(), "sales");

  const Envelope sut = Envelope::caused_by(first, message_type_of<shop::ReserveStock>(), "billing");

  EXPECT_EQ(first.correlation_id, first.message_id);
  EXPECT_EQ(first.conversation_id, first.message_id);
  EXPECT_TRUE(first.causation_id.empty());
  EXPECT_EQ(first.content_type, "application/json");
  EXPECT_EQ(first.kind, "event");
  EXPECT_NE(sut.message_id, first.message_id);
  EXPECT_EQ(sut.correlation_id, first.correlation_id);
  EXPECT_EQ(sut.conversation_id, first.conversation_id);
  EXPECT_EQ(sut.causation_id, first.message_id);
  EXPECT_EQ(sut.type, "ReserveStock@1");
  EXPECT_EQ(sut.kind, "command");
  EXPECT_EQ(sut.source, "billing");
  EXPECT_EQ(TraceContext::parse(sut.traceparent)->trace_id, TraceContext::parse(first.traceparent)->trace_id);
  EXPECT_NE(TraceContext::parse(sut.traceparent)->span_id, TraceContext::parse(first.traceparent)->span_id);
  EXPECT_TRUE(envelope::parse_time_ns(sut.sent_time).has_value());
}

TEST(Envelope, AParentWithoutATraceStartsOne) {
  Envelope parent;
  parent.message_id = "m1";
  parent.traceparent = "garbage";
  parent.tracestate = "vendor=x";

  const Envelope sut = Envelope::caused_by(parent, message_type_of<shop::ReserveStock>(), "a");

  EXPECT_TRUE(TraceContext::parse(sut.traceparent).has_value());
  EXPECT_TRUE(sut.tracestate.empty());  // it belonged to a trace we could not continue
  EXPECT_EQ(sut.correlation_id, "m1");
  EXPECT_EQ(sut.causation_id, "m1");
}

// The sent-time is format_time's text (the envelope keeps the part up to the second per thread).
TEST(Envelope, SentTimeIsFormatTimes) {
  using std::chrono::milliseconds;
  const auto type = message_type_of<shop::OrderPlaced>();
  for (const int64_t ms : {int64_t{0}, int64_t{999}, int64_t{1000}, int64_t{1'764'606'546'123},
                           int64_t{1'764'606'546'999}, int64_t{1'764'606'547'000}, int64_t{1'764'606'547'001},
                           int64_t{951'782'400'000}, int64_t{-1}, int64_t{-999}, int64_t{-1000}, int64_t{-1001},
                           int64_t{9'223'371'000'000}}) {  // near the end of system_clock's nanoseconds (2262), +10 s still in it
    for (int again = 0; again < 3; ++again) {  // then from the kept seconds, between two of them
      const std::chrono::system_clock::time_point t{milliseconds(ms)}, later = t + std::chrono::seconds(10);
      EXPECT_EQ(Envelope::start(type, "a", t).sent_time, envelope::format_time(t)) << ms;
      EXPECT_EQ(Envelope::start(type, "a", later).sent_time, envelope::format_time(later)) << ms;
    }
  }
}

// Read over another envelope: only what these headers carry is left.
TEST(Envelope, ReadIntoReplacesEveryField) {
  const Envelope full = every_field_envelope();
  const Envelope lean = Envelope::start(message_type_of<shop::OrderPlaced>(), "other");
  const std::vector<std::byte> full_block = block_of(full), lean_block = block_of(lean);
  Envelope sut;

  Envelope::read(HeadersView(full_block), sut);
  Envelope::read(HeadersView(lean_block), sut);

  EXPECT_EQ(sut.headers().size(), lean.headers().size());
  EXPECT_EQ(sut.message_id, lean.message_id);
  EXPECT_EQ(sut.source, "other");
  EXPECT_EQ(sut.reply_to, "");
  EXPECT_EQ(sut.expires_at, "");
  EXPECT_EQ(sut.tracestate, "");
  EXPECT_EQ(sut.not_before, "");
  Envelope::read(HeadersView(full_block), sut);
  EXPECT_EQ(sut.reply_to, "replies.x");
  EXPECT_EQ(sut.tracestate, "a=b");
}

TEST(Envelope, HeaderKeysAreTheDesignsNames) {
  EXPECT_EQ(header_keys::kConversationId, "conversation-id");
  EXPECT_EQ(header_keys::kKind, "kind");
  EXPECT_EQ(header_keys::kSource, "source");
  EXPECT_EQ(header_keys::kTracestate, "tracestate");
  EXPECT_EQ(header_keys::kDeathReason, "x-death-reason");
  EXPECT_EQ(header_keys::kDeathError, "x-death-error");
  const std::vector<Header> sut = Envelope::start(message_type_of<shop::OrderPlaced>(), "a").headers();
  std::vector<std::string_view> keys;
  for (const Header& h : sut) keys.push_back(h.key);
  EXPECT_EQ(keys, (std::vector<std::string_view>{"message-id", "correlation-id", "conversation-id", "type", "kind",
                                                 "content-type", "sent-time", "source", "traceparent"}));
}

TEST(Envelope, RoundTripsThroughHeaders) {
  Envelope e = Envelope::start(message_type_of<shop::GetOrderStatus>(), "client");
  e.reply_to = "replies.x";
  e.expires_at = "2030-01-01T00:00:00.000Z";
  e.tracestate = "a=b";
  const std::vector<std::byte> block = block_of(e);

  const Envelope sut = Envelope::read(HeadersView(block));

  EXPECT_EQ(sut.message_id, e.message_id);
  EXPECT_EQ(sut.reply_to, "replies.x");
  EXPECT_EQ(sut.tracestate, "a=b");
  EXPECT_EQ(sut.traceparent, e.traceparent);
  ASSERT_TRUE(sut.expires().has_value());
  EXPECT_EQ(envelope::format_time(*sut.expires()), "2030-01-01T00:00:00.000Z");
}

// Read tries the writers' order first; any other order, other keys between, and repeated keys
// (the first wins, as with find()) give the same envelope.
TEST(Envelope, ReadTakesHeadersInAnyOrderAndTheFirstOfARepeatedKey) {
  Envelope e = Envelope::start(message_type_of<shop::GetOrderStatus>(), "client");
  e.reply_to = "replies.x";
  e.tracestate = "a=b";
  std::vector<Header> headers = e.headers();
  std::reverse(headers.begin(), headers.end());
  headers.insert(headers.begin() + 3, Header{"user-key", "v"});
  headers.push_back({header_keys::kSource, "a later copy"});
  headers.push_back({header_keys::kMessageId, "a later id"});
  std::vector<std::byte> block(encoded_headers_size(headers));
  encode_headers(headers, block);

  const Envelope sut = Envelope::read(HeadersView(block));

  const std::vector<Header> got = sut.headers(), want = e.headers();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].key, want[i].key);
    EXPECT_EQ(got[i].value, want[i].value) << got[i].key;
  }
}

// The view reads the same fields in place: pointing into the block, not copies.
TEST(EnvelopeView, ReadsEveryFieldInPlace) {
  const Envelope e = every_field_envelope();
  const std::vector<std::byte> block = block_of(e);
  const auto* first = reinterpret_cast<const char*>(block.data());

  const EnvelopeView sut = EnvelopeView::read(HeadersView(block));

  Envelope copied;
  sut.copy_to(copied);
  const std::vector<Header> got = copied.headers(), want = e.headers();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].value, want[i].value) << got[i].key;
  EXPECT_GE(sut.message_id.data(), first);
  EXPECT_LT(sut.tracestate.data(), first + block.size());
  ASSERT_TRUE(sut.expires().has_value());
  EXPECT_EQ(*sut.expires(), *e.expires());
  EXPECT_EQ(EnvelopeView::read(HeadersView()).message_id, "");
}

TEST(EnvelopeView, OfAnEnvelopeViewsItsStringsAndContinuesItsFlowAlike) {
  Envelope parent = Envelope::start(message_type_of<shop::OrderPlaced>(), "sales");
  parent.tracestate = "k=v";
  const EnvelopeView view = EnvelopeView::of(parent);
  EXPECT_EQ(view.traceparent.data(), parent.traceparent.data());
  const auto now = std::chrono::system_clock::now();
  Envelope from_view, from_full;

  Envelope::caused_by(view, message_type_of<shop::ReserveStock>(), "billing", now, from_view);
  Envelope::caused_by(parent, message_type_of<shop::ReserveStock>(), "billing", now, from_full);

  EXPECT_EQ(from_view.correlation_id, parent.message_id);
  EXPECT_EQ(from_view.causation_id, parent.message_id);
  EXPECT_EQ(from_view.conversation_id, from_full.conversation_id);
  EXPECT_EQ(from_view.traceparent.substr(0, 36), parent.traceparent.substr(0, 36));  // same trace-id
  EXPECT_EQ(from_view.tracestate, "k=v");
  EXPECT_EQ(from_view.sent_time, from_full.sent_time);
}

// A handler's Context reads the delivery in place; envelope() copies it out at the first ask.
TEST(EnvelopeView, AContextMakesItsEnvelopeOnlyWhenAskedAndKeepsIt) {
  Envelope e = Envelope::start(message_type_of<shop::ReserveStock>(), "client");
  e.reply_to = "replies.x";
  const std::vector<std::byte> block = block_of(e);
  const EnvelopeView view = EnvelopeView::read(HeadersView(block));
  Envelope copy;
  detail::Routes routes;
  const std::string endpoint = "stock";
  detail::OutgoingBatch out;

  Context sut(view, copy, endpoint, routes, out, 1, 0);

  EXPECT_EQ(copy.message_id, "");  // not made yet
  EXPECT_EQ(sut.envelope_view().reply_to, "replies.x");
  const Envelope& got = sut.envelope();
  EXPECT_EQ(&got, &copy);
  EXPECT_EQ(got.message_id, e.message_id);
  EXPECT_EQ(got.reply_to, "replies.x");
  EXPECT_EQ(&sut.envelope(), &copy);
}

}  // namespace
}  // namespace shmbus::service
