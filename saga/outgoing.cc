// An outbox row as a saga's outgoing message (Store::unsent): the envelope read back from the
// headers block the row keeps.
#include "shmbus/error.h"
#include "shmbus/headers.h"
#include "shmbus/outbox/outbox.h"
#include "shmbus/saga/store.h"

namespace shmbus::saga::detail {

OutgoingMessage outgoing_of(const outbox::OutboxMessage& row) {
  OutgoingMessage m;
  m.action = OutgoingMessage::Action::kPublish;
  m.topic = row.topic;
  m.envelope = service::Envelope::read(HeadersView(std::as_bytes(std::span(row.headers.data(), row.headers.size()))));
  m.payload = row.payload;
  m.seq = row.seq;
  return m;
}

void append_to_outbox(outbox::Transaction& tx, const OutgoingMessage& m) {
  if (m.action != OutgoingMessage::Action::kPublish) {
    throw Error("saga store: a cancel of " + m.envelope.message_id +
                    " is not an outbox row (the saga endpoint cancels after the commit)",
                ErrorKind::kInvalidArgument);
  }
  tx.append_outbox(outbox::encode_message(m.topic, m.envelope, m.payload));
}

}  // namespace shmbus::saga::detail
