"""shmbus: a lock-free shared-memory message bus, from Python.

    import shmbus
    with shmbus.Bus("demo") as bus:
        pub = bus.publisher("orders.created")
        pub.publish(b"...", headers={"type": "OrderPlaced"})
        for msg in bus.subscribe("orders.#", start="earliest"):
            print(msg.topic, msg.position, msg.headers, bytes(msg.data))

The bus is the same one C++ processes use. See README.md, section "Python".
"""

from ._errors import *  # noqa: F401,F403 - the exception hierarchy, rooted at shmbus.Error
from ._errors import __all__ as _error_names
from ._shmbus import (Bus, Claim, Consumer, CursorStats, Delivery, HeaderFilter, Message, Publisher, Queue,
                      QueueStats, Subscription, TopicStats, __version__, check_journal, pattern_matches,
                      validate_pattern, validate_topic_name)
from . import _aio, _handler
from ._handler import Outcome

_aio.install(Publisher, Subscription, Consumer)
_handler.install(Consumer)

__all__ = ["Bus", "Claim", "Consumer", "CursorStats", "Delivery", "HeaderFilter", "Message", "Outcome", "Publisher", "Queue",
           "QueueStats", "Subscription", "TopicStats", "check_journal", "pattern_matches", "validate_pattern",
           "validate_topic_name", "__version__", *_error_names]
