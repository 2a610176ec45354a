"""The DynamoDB client a store builds: what each connect costs beyond the first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiobotocore import httpsession
from botocore.loaders import JSONFileLoader

from lexigram_nosql.backends.dynamodb.parsing import dynamo_json_parser
from tests.support import backend_dynamodb

dynamodb = backend_dynamodb.dynamodb  # the store factory fixture
Factory = Callable[..., Awaitable[Any]]


async def test_stores_after_the_first_parse_no_botocore_json(
    dynamodb: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DynamoDB model is parsed once per process (0.3 s of CPU), not once per store."""
    await dynamodb()
    loaded: list[str] = []
    load_file = JSONFileLoader.load_file

    def counting(self: JSONFileLoader, file_path: str) -> Any:
        loaded.append(file_path)
        return load_file(self, file_path)

    monkeypatch.setattr(JSONFileLoader, "load_file", counting)
    second = await dynamodb()
    assert await second.collection("items").count_documents({}) == 0
    assert loaded == []


async def test_a_plain_http_endpoint_loads_no_certificates(
    dynamodb: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB Local over http:// has nothing to verify; loading the CA bundle would cost
    ~50 ms on the event loop per client."""
    created: list[Any] = []
    create = httpsession.create_urllib3_context

    def recording(*args: Any, **kwargs: Any) -> Any:
        created.append(args)
        return create(*args, **kwargs)

    monkeypatch.setattr(httpsession, "create_urllib3_context", recording)
    store = await dynamodb()
    assert await store.collection("items").count_documents({}) == 0
    assert created == []


async def test_every_response_is_parsed_by_one_parser(
    dynamodb: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parser keeps no state between responses: the client makes one, not one per call."""
    store = await dynamodb()
    collection = store.collection("items")
    await collection.insert_one({"_id": "a", "n": 1})
    parser_class = dynamo_json_parser()
    made: list[Any] = []
    init = parser_class.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(parser_class, "__init__", counting)
    for _ in range(3):
        assert await collection.find_one({"_id": "a"}) == {"_id": "a", "n": 1}
        await collection.update_one({"_id": "a"}, {"$inc": {"n": 0}})
    assert made == []


async def test_the_user_agent_is_built_once_and_is_botocores(
    dynamodb: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore rebuilds the User-Agent twice per request (a fifth of its CPU for a
    GetItem); the store's client builds it once per feature set: the same header."""
    store = await dynamodb()
    collection = store.collection("items")
    await collection.insert_one({"_id": "a", "n": 1})
    sent: list[bytes] = []
    store.client.meta.events.register(
        "before-send.dynamodb", lambda request, **_: sent.append(request.headers["User-Agent"])
    )
    creator = store.client._user_agent_creator
    built: list[str] = []
    build = type(creator).to_string

    def counting(self: Any) -> str:
        text: str = build(self)
        built.append(text)
        return text

    monkeypatch.setattr(type(creator), "to_string", counting)
    for _ in range(3):
        assert await collection.find_one({"_id": "a"}) == {"_id": "a", "n": 1}
        await collection.update_one({"_id": "a"}, {"$inc": {"n": 0}})
    assert built == []  # every request so far had the features of the first
    assert len(set(sent)) == 1 and sent[0].startswith(b"aiobotocore/")
    # What botocore builds itself for such requests, on a client without the cache:
    other = await dynamodb(table_prefix=store.settings.dynamodb.table_prefix)
    other_sent: list[bytes] = []
    other.client.meta.events.register(
        "before-send.dynamodb",
        lambda request, **_: other_sent.append(request.headers["User-Agent"]),
    )
    other.client._user_agent_creator.to_string = lambda: build(other.client._user_agent_creator)
    assert await other.collection("items").find_one({"_id": "a"}) == {"_id": "a", "n": 1}

    def parts(header: bytes) -> list[Any]:  # the features (m/...) are a set: any order
        return [sorted(p.split(b",")) if p.startswith(b"m/") else p for p in header.split()]

    assert other_sent and all(parts(h) == parts(sent[0]) for h in other_sent)
