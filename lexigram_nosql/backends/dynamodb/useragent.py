"""The client's ``User-Agent`` header, built once per set of features instead of twice per
request.

botocore builds the ``User-Agent`` string of every request from its parts (the SDK, OS and
Python versions, the client's configuration, the features the request used), twice: when the
request is made and again just before it is sent, cleaning every character of every part each
time. That was about a fifth of the client's CPU for one ``GetItem`` or ``UpdateItem``. For
one client only the features change the string, so it is kept per set of features: the same
header, built once. An optimization only: a botocore without these internals keeps its own
way.
"""

from __future__ import annotations

import logging
from typing import Any, Final

__all__ = ["cache_user_agent"]

logger = logging.getLogger("lexigram_nosql")

_KEPT: Final = 64  # feature sets seen by one client: a handful


def cache_user_agent(client: Any) -> None:
    """Make ``client`` (an aiobotocore client) build each distinct ``User-Agent`` once."""
    try:
        from botocore.context import get_context

        creator = client._user_agent_creator
        build = creator.to_string
    except Exception as exc:  # pragma: no cover - depends on the installed botocore
        logger.debug("The DynamoDB client builds its User-Agent per request: %r", exc)
        return
    built: dict[tuple[frozenset[str], frozenset[str]], str] = {}

    def to_string() -> str:
        context = get_context()
        features = frozenset(context.features) if context is not None else frozenset()
        key = (features, frozenset(getattr(creator, "_client_features", None) or ()))
        text = built.get(key)
        if text is None:
            if len(built) >= _KEPT:
                built.clear()
            text = built[key] = build()
        return text

    creator.to_string = to_string  # what botocore calls, on the request and before sending
