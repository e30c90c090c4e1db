"""The Python client of SynthTwin: requests, a Clone subscriber and the client commands.

``RequestClient`` asks the server's ROUTER (``call("spawn", count=3)``); ``Subscriber`` joins the
PUB stream late and mirrors it (``crowd()``, ``vitals(id)``, ``events``); ``cli.register`` adds
``twin watch``, ``twin record`` and ``twin query``. The protocol is ``docs/protocol.md``.
"""

from synthtwin.clients.python.request_client import RequestClient, RequestError
from synthtwin.clients.python.subscriber import Applied, CrowdView, Subscriber, Tables, merge_cells

__all__ = [
    "Applied",
    "CrowdView",
    "RequestClient",
    "RequestError",
    "Subscriber",
    "Tables",
    "merge_cells",
]
