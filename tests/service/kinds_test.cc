// The kind rules: events are published, commands sent, replies answer requests; each refusal
// says what to do instead.
#include <gtest/gtest.h>

#include "messages.h"
#include "service/sender.h"

namespace shmbus::service {
namespace {

using shmbus::test::TempBus;

// Runs `f`, expecting an Error whose message contains `advice`.
template <class F>
void expect_refused(F&& f, const std::string& advice) {
  try {
    f();
    ADD_FAILURE() << "not refused; expected: " << advice;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(advice), std::string::npos) << e.what();
  }
}

TEST(Kinds, PublishingACommandIsRefusedWithAdviceToSendIt) {
  TempBus tb;
  Client sut(tb.open(), test::client_options());

  expect_refused([&] { sut.publish(shop::ReserveStock{1, 2}); }, "send(message, endpoint)");
}

TEST(Kinds, SendingAnEventIsRefusedWithAdviceToPublishIt) {
  TempBus tb;
  Client sut(tb.open(), test::client_options());

  expect_refused([&] { sut.send(shop::OrderPlaced{1, "c"}, "sales"); }, "publish(message)");
}

TEST(Kinds, PublishingOrSendingAReplyIsRefused) {
  TempBus tb;
  Client sut(tb.open(), test::client_options());

  expect_refused([&] { sut.publish(shop::OrderStatus{}); }, "reply(message)");
  expect_refused([&] { sut.send(shop::OrderStatus{}, "sales"); }, "reply(message)");
}

TEST(Kinds, RequestingWithAnAnswerThatIsNotAReplyIsRefused) {
  TempBus tb;
  Client sut(tb.open(), test::client_options());

  expect_refused([&] { (void)sut.request<shop::GetOrderStatus, shop::StockReserved>({}, "sales", std::chrono::seconds(1)); },
                 "kind reply");
}

TEST(Kinds, AnEndpointCannotHandleAReply) {
  TempBus tb;
  Endpoint sut(tb.open(), "sales", test::fast_options());

  expect_refused([&] { sut.handle<shop::OrderStatus>([](const shop::OrderStatus&, Context&) {}); }, "Client");
}

TEST(Kinds, ReplyingToAnEventOrAPlainCommandIsRefusedInTheHandler) {
  Envelope event = Envelope::start(message_type_of<shop::OrderPlaced>(), "x");
  Envelope command = Envelope::start(message_type_of<shop::ReserveStock>(), "x");
  detail::Routes routes;
  const std::string endpoint = "sales";
  for (const Envelope* handled : {&event, &command}) {
    detail::OutgoingBatch out;
    Context ctx(*handled, endpoint, routes, out, 1, 0);
    expect_refused([&] { ctx.reply(shop::OrderStatus{}); }, "only a command sent by request()");
  }
}

TEST(Kinds, SendingToAnEndpointThatDoesNotExistIsNoEndpoint) {
  TempBus tb;
  Client sut(tb.open(), test::client_options());

  try {
    sut.send(shop::ReserveStock{1, 1}, "nobody");
    ADD_FAILURE() << "sent";
  } catch (const RequestError& e) {
    EXPECT_EQ(e.code(), RequestErrc::kNoEndpoint);
    EXPECT_NE(std::string(e.what()).find("commands.nobody"), std::string::npos) << e.what();
  }
}

TEST(Kinds, ACommandWithoutEndpointOrRouteIsRefusedWithAdviceToRouteIt) {
  TempBus tb;
  Client sut(tb.open(), test::client_options());

  expect_refused([&] { sut.send(shop::ReserveStock{1, 1}); }, "route<ReserveStock>");
}

TEST(Kinds, ATypeNameThatCannotBeATopicIsRefused) {
  EXPECT_THROW(validate_message_type({"Order Placed", 1, MessageKind::kEvent}), Error);
  EXPECT_THROW(validate_message_type({"OrderPlaced", 0, MessageKind::kEvent}), Error);
  EXPECT_NO_THROW(validate_message_type({"Fault<OrderPlaced>", 2, MessageKind::kEvent}));
}

}  // namespace
}  // namespace shmbus::service
