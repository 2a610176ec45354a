"""Short, safe causes of a failure, for health reports, breaker logs and connection errors.

Driver messages carry topology dumps (hosts, user names, options), request ids and sometimes
credentials; a health endpoint is often public. A cause here is one of a few fixed phrases
(``connection refused host:port``, ``timeout``, ``authentication failed``, ``table X is
missing``) or, failing those, the exception's class name: never driver text.
"""

from __future__ import annotations

import re
from typing import Final

from lexigram_nosql.errors import OperationTimeoutError, StoreUnavailableError

__all__ = ["endpoint_of", "short_cause"]

_REFUSED: Final = re.compile(
    r"connection refused|errno 111\b|econnrefused|could not connect to the endpoint"
    r"|failed to connect to all addresses|connect call failed",
    re.IGNORECASE,
)
_TIMEOUT: Final = re.compile(r"timed? ?out|deadline exceeded|timeout", re.IGNORECASE)
_AUTH: Final = re.compile(
    r"authentication failed|auth failed|unauthenticated|unrecognizedclient|invalidsignature"
    r"|invalid ?clienttokenid|security token .* invalid|permission[_ ]denied|access ?denied",
    re.IGNORECASE,
)
_RESOLVE: Final = re.compile(
    r"name or service not known|nodename nor servname|getaddrinfo failed|"
    r"temporary failure in name resolution",
    re.IGNORECASE,
)
# "table X is missing" is how our errors say it (DynamoDB); keep that sentence as is.
_TABLE_MISSING: Final = re.compile(r"table '?([\w.\-]+)'? is missing")
_HOSTS: Final = re.compile(r"^[a-z][a-z0-9+.\-]*://(?:[^@/?#]*@)?([^/?#]+)", re.IGNORECASE)


def endpoint_of(address: str) -> str | None:
    """``host:port`` (or the host list) of a store's address, without credentials."""
    found = _HOSTS.match(address)
    return found.group(1) if found else None


def short_cause(exc: BaseException, *, address: str = "") -> str:
    """What went wrong, in a few safe words; ``address`` supplies ``host:port``."""
    if isinstance(exc, StoreUnavailableError):
        return str(exc.message)
    if isinstance(exc, OperationTimeoutError | TimeoutError):
        return "timeout"
    text = " ".join(_chain_texts(exc))
    endpoint = endpoint_of(address)
    missing = _TABLE_MISSING.search(text)
    if missing:
        return f"table {missing.group(1)} is missing"
    if _AUTH.search(text):
        return "authentication failed"
    if _REFUSED.search(text):
        return f"connection refused {endpoint}" if endpoint else "connection refused"
    if _RESOLVE.search(text):
        return f"cannot resolve {endpoint}" if endpoint else "cannot resolve host"
    if _TIMEOUT.search(text):
        return "timeout"
    root = _root(exc)
    return type(root).__name__


def _chain_texts(exc: BaseException) -> list[str]:
    """The class names and messages along the cause/context chain (bounded)."""
    texts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        texts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return texts


def _root(exc: BaseException) -> BaseException:
    """The innermost exception of the chain (usually the driver's)."""
    seen: set[int] = set()
    current = exc
    while id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        following = current.__cause__ or current.__context__
        if following is None:
            break
        current = following
    return current
