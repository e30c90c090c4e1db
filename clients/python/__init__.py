"""The Python client of SynthTwin: the client commands, over the protocol's one client.

``cli.register`` adds ``twin watch``, ``twin record`` and ``twin query``. They use the Clone
client of ``net.wire`` (re-exported here), the same one the gateway uses: ``RequestClient`` asks
the server's ROUTER (``call("spawn", count=3)``); ``CloneClient`` joins the PUB stream late and
mirrors it (``crowd()``, ``vitals(id)``, ``events``). The protocol is ``docs/protocol.md``.
"""

from synthtwin.net.wire.client import CloneClient
from synthtwin.net.wire.clone import Applied, Crowd, Tables, merge_cells
from synthtwin.net.wire.dealer import RequestClient, RequestError, RequestTimeout

__all__ = [
    "Applied",
    "CloneClient",
    "Crowd",
    "RequestClient",
    "RequestError",
    "RequestTimeout",
    "Tables",
    "merge_cells",
]
