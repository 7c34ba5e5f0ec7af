"""The transactional outbox and the inbox from Python, on SQLite (docs/outbox.md): the same tables,
rows, envelopes and relay lock as the C++ layer (shmbus/outbox/), so C++ and Python services may
share a database and either's relay relays both's rows.

    from shmbus import outbox
    store = outbox.SqliteStore("/var/lib/ordering/app.db")      # WAL; creates the tables
    ob = outbox.Outbox(bus, store, source="ordering")            # starts the relay thread
    with store.transaction() as tx:                              # BEGIN IMMEDIATE ... COMMIT
        tx.execute("INSERT INTO orders(id, status) VALUES (42, 'placed')")
        ob.publish(tx, OrderPlaced(order=42, customer="ann"))     # to events.OrderPlaced, once committed
"""
from ._headers import decode_headers, encode_headers
from ._inbox import Inbox, InboxStats
from ._outbox import Outbox
from ._relay import OutboxStats
from ._sqlite import Connection, RelayConnection, SqliteStore, Transaction

__all__ = ["Connection", "Inbox", "InboxStats", "Outbox", "OutboxStats", "RelayConnection", "SqliteStore",
           "Transaction", "decode_headers", "encode_headers"]
