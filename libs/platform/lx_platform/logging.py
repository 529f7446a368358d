"""JSON-lines logging with the service name, request id and event id on every line."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
event_id_var: ContextVar[str | None] = ContextVar("event_id", default=None)

_service_name = "unknown"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
# Free text that may quote the data that caused it: error texts, stack traces, paths, messages.
_REDACTED_FIELDS = ("message", "error", "exc", "path")


def redact(text: str) -> str:
    """Text with email addresses and ids masked: an error or a path may quote a person's id or email, and a
    log line must outlive no one's erasure. Event and request ids are logged in fields of their own."""
    return _UUID.sub("<id>", _EMAIL.sub("<email>", text))


# Attributes every LogRecord has; anything else was passed with `extra=` and is kept.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": _service_name,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if rid := request_id_var.get():
            line["request_id"] = rid
        if eid := event_id_var.get():
            line["event_id"] = eid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            # Stack traces go to the log only, never to a client.
            line["exc"] = self.formatException(record.exc_info)
        for key in _REDACTED_FIELDS:
            if isinstance(line.get(key), str):
                line[key] = redact(str(line[key]))
        return json.dumps(line, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every logger's records to stderr as JSON lines."""
    global _service_name
    _service_name = service
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Noisy or secret-bearing libraries stay at WARNING (tweepy logs bearer tokens at DEBUG).
    for name in ("aiokafka", "kafka", "faststream", "tweepy", "httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
