"""Parsing DynamoDB's answers: most attribute values arrive already in their parsed form.

botocore parses a response by walking its shape. An ``AttributeValue`` is a structure of
ten members, so each value of each item costs ten member lookups and a new dict: most of the
client's CPU in a Scan or Query of small items, and more for this package's items, which
carry hidden attributes (field order, float paths, version). A value holding a string,
number, boolean, null or a string or number set is, on the wire, exactly what that walk
builds, so it is kept as it came; binaries (base64 on the wire), lists, maps and anything
unexpected take botocore's own walk, which comes back here for the values inside them.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Final

__all__ = ["dynamo_json_parser", "install_fast_parsing"]

logger = logging.getLogger("lexigram_nosql")

_AS_SENT: Final = frozenset({"S", "N", "BOOL", "NULL", "SS", "NS"})


def install_fast_parsing(botocore_session: Any) -> None:
    """Make clients of ``botocore_session`` (an aiobotocore session) parse JSON responses
    with ``DynamoJSONParser``. An optimization only: if this aiobotocore has no such
    extension point, responses are parsed as before."""
    try:
        from aiobotocore.parsers import AioResponseParserFactory

        class Factory(AioResponseParserFactory):  # type: ignore[misc]
            _json: Any = None

            def set_parser_defaults(self, **kwargs: Any) -> None:
                super().set_parser_defaults(**kwargs)
                self._json = None

            def create_parser(self, protocol_name: str) -> Any:
                if protocol_name == "json":
                    # One parser for every response: a parser keeps no state between
                    # parses, and botocore's making one per response cost CPU each request.
                    if self._json is None:
                        self._json = dynamo_json_parser()(**self._defaults)
                    return self._json
                return super().create_parser(protocol_name)

        botocore_session.register_component("response_parser_factory", Factory())
    except Exception as exc:  # pragma: no cover - depends on the installed aiobotocore
        logger.debug("DynamoDB responses keep botocore's parsing: %r", exc)


@functools.cache
def dynamo_json_parser() -> Any:
    """``DynamoJSONParser``, defined on first use (aiobotocore is imported lazily)."""
    from aiobotocore.parsers import AioJSONParser

    class DynamoJSONParser(AioJSONParser):  # type: ignore[misc]
        """botocore's JSON parser, with attribute values of plain kinds kept as sent."""

        def _handle_structure(self, shape: Any, value: Any) -> Any:
            if type(value) is dict and len(value) == 1 and shape.name == "AttributeValue":
                for kind, payload in value.items():
                    if kind in _AS_SENT and payload is not None:
                        return value
            return super()._handle_structure(shape, value)

    return DynamoJSONParser
