"""Keeping secrets out of reprs, logs, errors and health output.

Redaction is done once, here, for every backend: a store knows its secrets (from its settings)
and every text it lets out passes through ``Redactor.scrub``. Log records are scrubbed only
where the application (or ``NoSQLModule``, or the CLI) asks for it: ``install_log_redaction``
for every logger of the process, or ``RedactingFilter`` on chosen handlers.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote

__all__ = [
    "REDACTED",
    "RedactingFilter",
    "Redactor",
    "install_log_redaction",
    "redact_logs",
    "redact_uri",
    "register_secrets",
    "uri_secrets",
]

REDACTED = "***"

# scheme://user:password@host  -> scheme://user:***@host
_URI_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)(?=@)")
# key=value pairs anywhere (DSNs, messages) whose key is a secret's name
_SECRET_PAIR = re.compile(
    r"(?P<key>(?:password|passwd|pwd|secret|token|secret_access_key|session_token)=)[^&;\s]*",
    re.IGNORECASE,
)
# a URI query parameter whose name holds password, secret, token or key
_SECRET_NAME = re.compile(r"password|secret|token|key|pwd", re.IGNORECASE)
_QUERY_PARAM = re.compile(r"(?P<head>[?&](?P<name>[A-Za-z0-9_.\-]+)=)(?P<value>[^&#\s'\"]*)")
# authMechanismProperties=NAME:value,NAME:value (':' and ',' possibly percent-encoded)
_MECHANISM_VALUE = re.compile(r"(?P<head>(?:^|,|%2C)[^:,%]*(?::|%3A))[^,]*?(?=,|%2C|$)", re.I)
_MECHANISM_PROPERTIES = "authmechanismproperties"


def _is_secret_param(name: str) -> bool:
    return name.lower() == _MECHANISM_PROPERTIES or _SECRET_NAME.search(name) is not None


def _redact_param(match: re.Match[str]) -> str:
    name, value = match.group("name"), match.group("value")
    if name.lower() == _MECHANISM_PROPERTIES:
        return match.group("head") + _MECHANISM_VALUE.sub(
            lambda m: m.group("head") + REDACTED, value
        )
    if _SECRET_NAME.search(name) is not None and value:
        return match.group("head") + REDACTED
    return match.group(0)


def redact_uri(uri: str) -> str:
    """Hide a connection URI's credentials: the userinfo password, the values of
    ``authMechanismProperties``, and every query parameter whose name holds password, secret,
    token or key. Works on any text that contains URIs."""
    uri = _URI_PASSWORD.sub(lambda m: m.group("head") + REDACTED, uri)
    uri = _QUERY_PARAM.sub(_redact_param, uri)
    return _SECRET_PAIR.sub(lambda m: m.group("key") + REDACTED, uri)


def uri_secrets(query: str) -> list[str]:
    """The secret values in a URI's query string (raw and decoded), for a ``Redactor``: a
    driver may echo them in its own words, far from any ``name=`` a pattern could see."""
    found: list[str] = []
    for raw in query.split("&"):
        name, _, value = raw.partition("=")
        if not value or not _is_secret_param(unquote(name)):
            continue
        if unquote(name).lower() == _MECHANISM_PROPERTIES:
            for form in (value, unquote(value)):
                for item in re.split(",|%2C", form, flags=re.IGNORECASE):
                    _, *secret = re.split(":|%3A", item, maxsplit=1, flags=re.IGNORECASE)
                    found.extend(secret)
            continue
        found.extend([value, *(v for _, v in parse_qsl(raw, keep_blank_values=True))])
    return [secret for secret in dict.fromkeys(found) if secret]


class Redactor:
    """Removes known secret values, and any URI credential, from text."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return redact_uri(text)


# -- logs ----------------------------------------------------------------------------------

_log_lock = threading.Lock()
_log_secrets: set[str] = set()
_log_redactor = Redactor()
_installed_factory: Any = None


def register_secrets(secrets: Iterable[str]) -> None:
    """Add ``secrets`` to those scrubbed from log records (stores register theirs when made).

    Registering changes no logging configuration: records are scrubbed where redaction is
    installed (``install_log_redaction``) or filtered (``RedactingFilter``)."""
    global _log_redactor
    new = {s for s in secrets if s and len(s) >= 3}
    with _log_lock:
        if new <= _log_secrets:
            return
        _log_secrets.update(new)
        _log_redactor = Redactor(_log_secrets)


def install_log_redaction() -> None:
    """Scrub every log record of the process, whichever logger makes it, from now on.

    Drivers log what they send at DEBUG (botocore logs each request's headers, whose
    Authorization header carries the access key id); a filter on our own logger cannot reach
    those records, and handlers belong to the application. So this wraps the log record
    factory, once (calling it again does nothing). ``NoSQLModule`` and the CLI call it; an
    application that wants it elsewhere uses ``RedactingFilter`` on its handlers instead.
    Only records of an enabled level are made, so it costs nothing while DEBUG is off."""
    global _installed_factory
    with _log_lock:
        current = logging.getLogRecordFactory()
        if current is _installed_factory:
            return
        _installed_factory = _scrubbing_factory(current)
        logging.setLogRecordFactory(_installed_factory)


def redact_logs(secrets: Iterable[str]) -> None:
    """Register ``secrets`` and install log redaction for the whole process."""
    register_secrets(secrets)
    install_log_redaction()


class RedactingFilter(logging.Filter):
    """A ``logging.Filter`` for handlers: scrubs registered secrets and URI credentials from
    each record it sees (message and traceback), and lets every record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub_record(record, _log_redactor)
        return True


def _scrubbing_factory(previous: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = previous(*args, **kwargs)
        _scrub_record(record, _log_redactor)
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
