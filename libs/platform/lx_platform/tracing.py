"""W3C traceparent and request-id headers for events, derived from the current request."""

from __future__ import annotations

import hashlib
import secrets

from lx_platform.logging import request_id_var


def trace_headers() -> dict[str, str]:
    rid = request_id_var.get()
    if rid and len(rid) == 32 and all(c in "0123456789abcdef" for c in rid):
        trace_id = rid
    elif rid:
        trace_id = hashlib.sha256(rid.encode()).hexdigest()[:32]
    else:
        trace_id = secrets.token_hex(16)
    headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    if rid:
        headers["x-request-id"] = rid
    return headers
