"""Keeping secrets out of reprs, logs, errors and health output.

Redaction is done once, here, for every backend: a store knows its secrets (from its settings)
and every text it lets out passes through ``Redactor.scrub``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

__all__ = ["REDACTED", "Redactor", "redact_logs", "redact_uri"]

REDACTED = "***"

# scheme://user:password@host  -> scheme://user:***@host
_URI_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)(?=@)")
# key=value pairs in query strings or DSNs whose key names a secret
_SECRET_PARAM = re.compile(
    r"(?P<key>(?:password|passwd|pwd|secret|token|secret_access_key|session_token)=)[^&;\s]*",
    re.IGNORECASE,
)


def redact_uri(uri: str) -> str:
    """Hide the password (and secret query parameters) of a connection URI."""
    uri = _URI_PASSWORD.sub(lambda m: m.group("head") + REDACTED, uri)
    return _SECRET_PARAM.sub(lambda m: m.group("key") + REDACTED, uri)


class Redactor:
    """Removes known secret values, and any URI password, from text."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return redact_uri(text)


_log_lock = threading.Lock()
_log_secrets: set[str] = set()
_log_redactor: Redactor | None = None


def redact_logs(secrets: Iterable[str]) -> None:
    """Scrub ``secrets`` from every log record made from now on, whichever logger makes it.

    Drivers log what they send at DEBUG (botocore logs each request's headers, whose
    Authorization header carries the access key id); a filter on our own logger cannot reach
    those records, and a filter on a handler is the application's. So the first store with a
    secret wraps the log record factory once. Only records of an enabled level are made, so
    this costs nothing while DEBUG logging is off.
    """
    global _log_redactor
    new = {s for s in secrets if s and len(s) >= 3}
    with _log_lock:
        if new <= _log_secrets:
            return
        first = not _log_secrets
        _log_secrets.update(new)
        _log_redactor = Redactor(_log_secrets)
        if first:
            logging.setLogRecordFactory(_scrubbing_factory(logging.getLogRecordFactory()))


def _scrubbing_factory(previous: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = previous(*args, **kwargs)
        redactor = _log_redactor
        if redactor is not None:
            _scrub_record(record, redactor)
        return record

    return factory


def _scrub_record(record: logging.LogRecord, redactor: Redactor) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging reports it when the record is emitted
        return
    scrubbed = redactor.scrub(message)
    if scrubbed != message:
        record.msg, record.args = scrubbed, None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        scrubbed = redactor.scrub(text)
        if scrubbed != text:
            record.exc_text = scrubbed  # formatters use it instead of the traceback
