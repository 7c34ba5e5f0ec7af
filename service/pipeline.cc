// The handler pipeline (pipeline.h has the steps). Settle first, Fault second: a settlement
// that fails (the lease was lost, another consumer has the record) publishes no Fault, so a
// Fault is published once per dead-lettered record (none if this process dies between the two).
#include "pipeline.h"

#include <algorithm>

#include "shmbus/envelope.h"
#include "shmbus/service/topology.h"

namespace shmbus::service::detail {

TimePoint Pipeline::ready_at(TimePoint now) const noexcept {
  return std::max(e_.breaker.ready_at(now), e_.rate.ready_at(now));
}

std::optional<TimePoint> Pipeline::rate_wait(TimePoint now, bool first_try) noexcept {
  std::optional<TimePoint> later = e_.rate.take(now);
  if (later && first_try) counters_.add(counters_.rate_limited);
  return later;
}

void Pipeline::note_wait(TimePoint now) noexcept {
  if (e_.rate.ready_at(now) > now) counters_.add(counters_.rate_limited);
}

void Pipeline::gave_back(CircuitBreaker::Pass pass) noexcept {
  if (pass == CircuitBreaker::Pass::kNo) counters_.add(counters_.released);
  if (e_.breaker.record(pass, Verdict::kNotJudged, e_.clock().now())) e_.host->wake();
}

void Pipeline::handle(const Message& m, uint32_t attempt, Settlement& s, CircuitBreaker::Pass pass) {
  // Whatever happens, the breaker hears of it (a trial that threw must not hold it half-open).
  struct Judge {
    Pipeline& p;
    CircuitBreaker::Pass pass;
    Verdict verdict = Verdict::kNotJudged;
    ~Judge() {
      CircuitBreaker& b = p.e_.breaker;
      if (b.enabled() && b.record(pass, verdict, p.e_.clock().now())) p.e_.host->wake();
    }
  } judge{*this, pass};
  judge.verdict = run(m, attempt, s);
}

CircuitBreaker::Verdict Pipeline::run(const Message& m, uint32_t attempt, Settlement& s) {
  const Clock& clock = e_.clock();
  const EnvelopeView env = EnvelopeView::read(m.headers);  // in place: the record stays until it is settled
  std::string reason;
  const HandlerEntry* h = e_.find(env.type, reason);
  if (!h) return reject_unhandled(s, reason);
  std::exception_ptr error;
  for (uint32_t retry = 0;; ++retry) {
    outgoing_.clear();
    // Without a handler_timeout no clock is read on the way (two reads were a tenth of a message).
    const auto timeout = e_.options.handler_timeout;
    const TimePoint started = timeout.count() > 0 ? clock.now() : TimePoint{};
    Context ctx(env, copy_, e_.name, e_.routes, outgoing_, attempt, retry,
                timeout.count() > 0 ? started + timeout : TimePoint::max(), &clock);
    try {
      h->invoke(m.text(), ctx);
      if (timeout.count() > 0 && ctx.past_deadline()) throw_timeout(env, clock.now() - started);
      send_outgoing(env);
      if (s.ack()) counters_.add(counters_.handled);
      return Verdict::kSuccess;
    } catch (const DecodeError& ex) {
      return reject_unhandled(s, std::string("undecodable: ") + ex.what());
    } catch (...) {
      error = std::current_exception();
    }
    if (!e_.retryable(error) || retry >= e_.options.immediate_retries) break;
    counters_.add(counters_.retried);
  }
  return failed(m, attempt, s, env, *h, error);
}

void Pipeline::throw_timeout(const EnvelopeView& env, std::chrono::nanoseconds took) const {
  const auto ms = [](auto d) { return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()); };
  throw HandlerTimeout("the handler of " + std::string(env.type) + " took " + ms(took) + " ms, over the endpoint's handler_timeout of " +
                       ms(e_.options.handler_timeout) + " ms");
}

CircuitBreaker::Verdict Pipeline::reject_unhandled(Settlement& s, const std::string& reason) {
  if (s.reject(reason)) counters_.add(counters_.rejected);
  return Verdict::kNotJudged;  // the message's fault, not the endpoint's
}

// Commands are checked to have an endpoint before anything goes, so that a missing one fails
// the attempt without having sent half of the batch.
void Pipeline::send_outgoing(const EnvelopeView& handled) {
  for (const Outgoing& out : outgoing_) {
    if (!out.endpoint.empty()) outbox_.require_endpoint(out.endpoint);
  }
  const auto expires = handled.expires();
  for (const Outgoing& out : outgoing_) {
    if (out.reply && expires && *expires < e_.clock().wall()) {
      counters_.add(counters_.replies_dropped);  // the requester gave up: nobody waits
      continue;
    }
    outbox_.publish(out);
  }
}

CircuitBreaker::Verdict Pipeline::failed(const Message& m, uint32_t attempt, Settlement& s, const EnvelopeView& view,
                                         const HandlerEntry& h, const std::exception_ptr& error) {
  const ErrorText text = describe(error);
  const bool retry = e_.retryable(error);
  const Verdict verdict = retry ? Verdict::kFailure : Verdict::kNotJudged;
  if (retry && attempt < e_.options.max_deliveries) {
    if (s.nack(text.line())) counters_.add(counters_.nacked);
    return verdict;
  }
  const std::string payload(m.text());  // the record may go with its settlement, and so what `view` views
  Envelope env;
  view.copy_to(env);
  // At the last attempt a nack dead-letters (delivery_limit); a never-retried one is rejected.
  const Result<void> settled = retry ? s.nack(text.line()) : s.reject(text.line());
  if (!settled) return verdict;
  counters_.add(counters_.faulted);
  publish_fault(env, h.type, payload, text, attempt);
  return verdict;
}

void Pipeline::publish_fault(const Envelope& env, const MessageType& type, std::string_view payload,
                             const ErrorText& text, uint32_t attempts) {
  const auto now = e_.clock().wall();
  const FaultInfo info{env.message_id, env.type, text.type, text.message, e_.name, attempts, envelope::format_time(now)};
  const std::string json = fault_payload(payload, info);
  const MessageType fault = fault_type(type);
  outbox_.publish({event_topic(fault), Envelope::caused_by(env, fault, e_.name, now), json, false, {}});
  if (!env.reply_to.empty() && env.kind == to_string(MessageKind::kCommand)) {
    const MessageType answer{fault.name, fault.version, MessageKind::kReply};
    outbox_.publish({env.reply_to, Envelope::caused_by(env, answer, e_.name, now), json, true, {}});
  }
}

}  // namespace shmbus::service::detail
