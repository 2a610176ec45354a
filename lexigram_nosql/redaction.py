"""Keeping secrets out of reprs, logs, errors and health output.

Redaction is done once, here, for every backend: a store knows its secrets (from its settings)
and every text it lets out passes through ``Redactor.scrub``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["REDACTED", "Redactor", "redact_uri"]

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
