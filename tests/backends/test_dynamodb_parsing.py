"""DynamoDB responses parsed with plain attribute values kept as sent: the same result as
botocore's own parsing, value for value and type for type."""

from __future__ import annotations

import base64
import json
from typing import Any

from aiobotocore.parsers import AioJSONParser
from botocore.session import get_session
from hypothesis import given, settings
from hypothesis import strategies as st

from lexigram_nosql.backends.dynamodb.parsing import dynamo_json_parser

_MODEL = get_session().get_service_model("dynamodb")

_leaves = st.one_of(
    st.text(max_size=5).map(lambda s: {"S": s}),
    st.integers().map(lambda n: {"N": str(n)}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    st.binary(max_size=5).map(lambda b: {"B": base64.b64encode(b).decode()}),
    st.lists(st.text(max_size=3), min_size=1, max_size=3).map(lambda v: {"SS": v}),
    st.lists(st.integers(), min_size=1, max_size=3).map(lambda v: {"NS": [str(n) for n in v]}),
    st.lists(st.binary(max_size=3), min_size=1, max_size=2).map(
        lambda v: {"BS": [base64.b64encode(b).decode() for b in v]}
    ),
    st.just({"S": "x", "N": "1"}),  # not what DynamoDB sends: botocore's walk decides
    st.just({"UNKNOWN": "x"}),
)
_values = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda v: {"L": v}),
        st.dictionaries(st.text(max_size=3), inner, max_size=3).map(lambda v: {"M": v}),
    ),
    max_leaves=8,
)
_items = st.lists(st.dictionaries(st.text(max_size=4), _values, max_size=4), max_size=4)


async def _parse(parser: Any, operation: str, body: dict[str, Any]) -> Any:
    response = {"status_code": 200, "headers": {}, "body": json.dumps(body).encode()}
    shape = _MODEL.operation_model(operation).output_shape
    return await parser.parse(response, shape)


@settings(deadline=None, max_examples=200)
@given(_items)
async def test_items_parse_exactly_as_botocore_parses_them(items: list[dict[str, Any]]) -> None:
    for operation, body in (
        ("Scan", {"Items": items, "Count": len(items), "ScannedCount": len(items)}),
        ("GetItem", {"Item": items[0]} if items else {}),
        ("Query", {"Items": items, "Count": len(items), "LastEvaluatedKey": {"_id": {"S": "k"}}}),
    ):
        ours = await _parse(dynamo_json_parser()(), operation, body)
        theirs = await _parse(AioJSONParser(), operation, body)
        assert repr(ours) == repr(theirs)
        assert ours == theirs
