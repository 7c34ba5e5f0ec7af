"""The handler style of Consumer (C++: Consumer::handle): the handler's outcome settles each
delivery; an exception is a failed attempt whose text is the dead letter's x-death-error."""
import enum


class Outcome(enum.Enum):
    """What a handler says of its delivery. A handler that returns None acks."""
    ACK = "ack"        # done
    RETRY = "retry"    # a failed attempt: again after the queue's backoff (nack)
    REJECT = "reject"  # dead-letter now


def _handle(self, handler, max=64, timeout=0.1):
    """Takes up to `max` deliveries (waiting up to `timeout` seconds for the first, not at all for
    the rest), calls handler(delivery) for each and settles it as it says (an Outcome, or None
    for ACK). An exception from the handler nacks it with str(exception) as the error text,
    then propagates only if it is not an Exception (KeyboardInterrupt, SystemExit). Returns how
    many were handled."""
    handled = 0
    while handled < max:
        d = self.receive(timeout=timeout) if handled == 0 else self.try_receive()
        if d is None:
            break
        try:
            outcome = handler(d)
        except Exception as e:  # noqa: BLE001 - any handler failure is a failed attempt
            self.nack(d, error=f"{type(e).__name__}: {e}")
            handled += 1
            continue
        except BaseException:
            self.release(d)  # interrupted, not failed: back uncharged
            raise
        if outcome is None or outcome is Outcome.ACK:
            self.ack(d)
        elif outcome is Outcome.RETRY:
            self.nack(d)
        elif outcome is Outcome.REJECT:
            self.reject(d, "rejected by the handler")
        else:
            self.release(d)
            raise TypeError(f"a handler returns a shmbus.Outcome or None, not {outcome!r}")
        handled += 1
    return handled


def install(consumer_class):
    consumer_class.handle = _handle
