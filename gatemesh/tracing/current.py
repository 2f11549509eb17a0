"""The server span of the request being handled, in a context variable.

Its own module, free of OpenTelemetry imports, so the places that only ask "is this
request traced?" (the event log's hook, `ids`) cost a variable read with tracing off.
A composed page's parallel calls see it too: asyncio.gather copies the context.
"""

from __future__ import annotations

import contextvars
from typing import Any

CURRENT: contextvars.ContextVar[Any] = contextvars.ContextVar("gatemesh_server_span", default=None)
