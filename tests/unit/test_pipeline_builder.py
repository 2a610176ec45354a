"""``AggregationPipeline`` and ``AggregationOp``: the fluent builder, its immutability, what
``group`` accepts, validation as stages are added, and the user guide's two pipelines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from lexigram_nosql import AggregationOp, AggregationPipeline, InvalidQueryError
from lexigram_nosql.query.aggregate import run_pipeline
from lexigram_nosql.query.aggregate_parse import parse_pipeline


async def run(pipeline: AggregationPipeline, documents: list[dict[str, Any]]) -> list[Any]:
    async def source() -> AsyncIterator[dict[str, Any]]:
        for document in documents:
            yield document

    parsed = parse_pipeline(pipeline.build())
    return [document async for document in run_pipeline(parsed, source())]


RESULTS = [
    {"_id": "r1", "status": "active", "score": 90},
    {"_id": "r2", "status": "inactive", "score": 40},
    {"_id": "r3", "status": "active", "score": 70},
]


# -- AggregationOp -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("made", "expected"),
    [
        (AggregationOp.SUM(1), {"$sum": 1}),
        (AggregationOp.AVG("$score"), {"$avg": "$score"}),
        (AggregationOp.MIN("$score"), {"$min": "$score"}),
        (AggregationOp.MAX("$score"), {"$max": "$score"}),
        (AggregationOp.FIRST("$name"), {"$first": "$name"}),
        (AggregationOp.LAST("$name"), {"$last": "$name"}),
        (AggregationOp.PUSH("$name"), {"$push": "$name"}),
        (AggregationOp.ADD_TO_SET("$tag"), {"$addToSet": "$tag"}),
        (AggregationOp.COUNT(), {"$count": {}}),
    ],
)
def test_aggregation_op_builds_accumulator_documents(made: Any, expected: Any) -> None:
    assert made == expected


def test_aggregation_op_copies_its_operand() -> None:
    operand = {"$multiply": ["$a", 2]}
    made = AggregationOp.SUM(operand)
    operand["$multiply"].append(3)
    assert made == {"$sum": {"$multiply": ["$a", 2]}}


# -- immutability and value semantics ----------------------------------------------------


def test_every_method_returns_a_new_pipeline() -> None:
    base = AggregationPipeline().match({"a": 1})
    longer = base.limit(5)
    other = base.skip(2)
    assert base.build() == [{"$match": {"a": 1}}]
    assert longer.build() == [{"$match": {"a": 1}}, {"$limit": 5}]
    assert other.build() == [{"$match": {"a": 1}}, {"$skip": 2}]


def test_build_returns_a_fresh_deep_copy() -> None:
    pipeline = AggregationPipeline().match({"tags": {"$in": ["a"]}})
    built = pipeline.build()
    built[0]["$match"]["tags"]["$in"].append("b")
    built.append({"$limit": 1})
    assert pipeline.build() == [{"$match": {"tags": {"$in": ["a"]}}}]
    assert pipeline.build() is not pipeline.build()


def test_arguments_are_copied_when_added() -> None:
    condition = {"status": {"$in": ["a"]}}
    pipeline = AggregationPipeline().match(condition)
    condition["status"]["$in"].append("b")
    condition["other"] = 1
    assert pipeline.build() == [{"$match": {"status": {"$in": ["a"]}}}]


def test_equality_length_iteration_and_repr() -> None:
    one = AggregationPipeline().match({"a": 1}).limit(2)
    two = AggregationPipeline([{"$match": {"a": 1}}, {"$limit": 2}])
    assert one == two
    assert one != AggregationPipeline().limit(2)
    assert len(one) == 2
    assert list(one) == [{"$match": {"a": 1}}, {"$limit": 2}]
    assert "$limit" in repr(one)
    with pytest.raises(TypeError):
        hash(one)


def test_constructor_validates_initial_stages() -> None:
    with pytest.raises(InvalidQueryError, match=r"Pipeline stage 1 \(\$limit\)"):
        AggregationPipeline([{"$match": {}}, {"$limit": -1}])


# -- validation as stages are added ------------------------------------------------------


@pytest.mark.parametrize(
    ("add", "message"),
    [
        (lambda p: p.match({"a": {"$bogus": 1}}), r"Pipeline stage 1 \(\$match\)"),
        (lambda p: p.match({"$where": "this.a > 1"}), r"\$where"),
        (lambda p: p.limit(0), r"Pipeline stage 1 \(\$limit\)"),
        (lambda p: p.skip(-1), r"\(\$skip\)"),
        (lambda p: p.sort([("a", 2)]), "must be 1 or -1"),
        (lambda p: p.sort([("a", 1, 2)]), r"\(field, 1 \| -1\) pairs"),
        (lambda p: p.sort([("a", 1), ("a", -1)]), "twice"),
        (lambda p: p.sort({}), "non-empty"),
        (lambda p: p.project({"a": 1, "b": 0}), "cannot mix"),
        (lambda p: p.add_fields({"x": {"$nope": 1}}), "Unknown expression operator"),
        (lambda p: p.group("k", {"x": {"$median": "$v"}}), "unknown accumulator"),
        (lambda p: p.group("k", {"_id": AggregationOp.SUM(1)}), "cannot be named '_id'"),
        (lambda p: p.group(5, {}), "group key must be None"),
        (lambda p: p.group("", {}), "must not be an empty string"),
        (lambda p: p.unwind("$"), "unwind"),
        (lambda p: p.lookup("orders", "a", "b"), "needs as_field"),
        (lambda p: p.lookup("orders", "a", as_field="x"), "both local_field"),
        (lambda p: p.count("$n"), r"\(\$count\)"),
        (lambda p: p.facet({"f": [{"$out": "x"}]}), r"\$out"),
        (lambda p: p.sample(-2), "non-negative"),
        (lambda p: p.stage({"$out": "elsewhere"}), r"Pipeline stage 1 \(\$out\)"),
        (lambda p: p.stage({"$match": {}, "$limit": 1}), "exactly one key"),
        (lambda p: p.stage({"$nope": {}}), "not a supported stage"),
        (lambda p: p.unset(), "non-empty list"),
    ],
)
def test_invalid_stages_are_refused_when_added(add: Any, message: str) -> None:
    base = AggregationPipeline().match({"status": "active"})
    with pytest.raises(InvalidQueryError, match=message):
        add(base)
    assert len(base) == 1


# -- match -------------------------------------------------------------------------------


def test_repeated_match_merges_with_and_and_keeps_every_condition() -> None:
    pipeline = (
        AggregationPipeline().match({"status": "active"}).match({"status": "x"}).match({"n": 1})
    )
    assert pipeline.build() == [
        {"$match": {"$and": [{"status": "active"}, {"status": "x"}, {"n": 1}]}}
    ]


async def test_merged_matches_behave_like_consecutive_stages() -> None:
    merged = AggregationPipeline().match({"status": "active"}).match({"score": {"$gt": 80}})
    assert [d["_id"] for d in await run(merged, RESULTS)] == ["r1"]


def test_match_after_another_stage_is_a_new_stage() -> None:
    pipeline = AggregationPipeline().match({"a": 1}).limit(3).match({"b": 2})
    assert pipeline.build() == [{"$match": {"a": 1}}, {"$limit": 3}, {"$match": {"b": 2}}]


def test_empty_match_conditions_merge_away() -> None:
    assert AggregationPipeline().match({}).build() == [{"$match": {}}]
    assert AggregationPipeline().match({}).match({"a": 1}).build() == [{"$match": {"a": 1}}]
    assert AggregationPipeline().match({"a": 1}).match({}).build() == [{"$match": {"a": 1}}]


# -- group -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected_id"),
    [
        (None, None),
        ("status", "$status"),
        ("meta.kind", "$meta.kind"),
        ("$status", "$status"),
        ("$$ROOT.status", "$$ROOT.status"),
        ("_id", "$_id"),
        (
            {"s": "$status", "big": {"$gt": ["$score", 50]}},
            {"s": "$status", "big": {"$gt": ["$score", 50]}},
        ),
    ],
)
def test_group_key_forms(key: Any, expected_id: Any) -> None:
    built = AggregationPipeline().group(key, {"n": AggregationOp.SUM(1)}).build()
    assert built == [{"$group": {"_id": expected_id, "n": {"$sum": 1}}}]


def test_group_without_accumulators() -> None:
    assert AggregationPipeline().group("status").build() == [{"$group": {"_id": "$status"}}]


async def test_group_by_a_field_name() -> None:
    pipeline = AggregationPipeline().group("status", {"n": AggregationOp.COUNT()})
    assert await run(pipeline, RESULTS) == [
        {"_id": "active", "n": 2},
        {"_id": "inactive", "n": 1},
    ]


async def test_group_none_is_one_group() -> None:
    pipeline = AggregationPipeline().group(None, {"best": AggregationOp.MAX("$score")})
    assert await run(pipeline, RESULTS) == [{"_id": None, "best": 90}]


async def test_group_by_id_is_one_group_per_document() -> None:
    pipeline = AggregationPipeline().group("_id", {"n": AggregationOp.SUM(1)})
    assert await run(pipeline, RESULTS) == [
        {"_id": "r1", "n": 1},
        {"_id": "r2", "n": 1},
        {"_id": "r3", "n": 1},
    ]


async def test_group_compound_key() -> None:
    pipeline = AggregationPipeline().group(
        {"status": "$status", "high": {"$gte": ["$score", 70]}}, {"n": AggregationOp.SUM(1)}
    )
    assert await run(pipeline, RESULTS) == [
        {"_id": {"status": "active", "high": True}, "n": 2},
        {"_id": {"status": "inactive", "high": False}, "n": 1},
    ]


def test_aggregation_op_and_raw_accumulators_build_the_same_stage() -> None:
    with_ops = AggregationPipeline().group(
        "k", {"c": AggregationOp.SUM(1), "a": AggregationOp.AVG("$v")}
    )
    raw = AggregationPipeline().group("k", {"c": {"$sum": 1}, "a": {"$avg": "$v"}})
    assert with_ops == raw


# -- the other stages --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "direction", "expected"),
    [
        ([("total", -1)], 1, {"total": -1}),
        ([("a", 1), ("b", -1)], 1, {"a": 1, "b": -1}),
        ({"a": -1, "b": 1}, 1, {"a": -1, "b": 1}),
        ("a", 1, {"a": 1}),
        ("a", -1, {"a": -1}),
    ],
)
def test_sort_forms(spec: Any, direction: int, expected: dict[str, int]) -> None:
    built = AggregationPipeline().sort(spec, direction).build()
    assert built == [{"$sort": expected}]
    assert list(built[0]["$sort"]) == list(expected)  # key order is sort priority


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.project({"a": 1}), {"$project": {"a": 1}}),
        (lambda p: p.add_fields({"x": "$a"}), {"$addFields": {"x": "$a"}}),
        (lambda p: p.unset("a"), {"$unset": ["a"]}),
        (lambda p: p.unset("a", "b.c"), {"$unset": ["a", "b.c"]}),
        (lambda p: p.unset(["a", "b"]), {"$unset": ["a", "b"]}),
        (lambda p: p.skip(3), {"$skip": 3}),
        (lambda p: p.limit(3), {"$limit": 3}),
        (lambda p: p.unwind("tags"), {"$unwind": "$tags"}),
        (lambda p: p.unwind("$tags"), {"$unwind": "$tags"}),
        (
            lambda p: p.unwind(
                "tags", include_array_index="i", preserve_null_and_empty_arrays=True
            ),
            {
                "$unwind": {
                    "path": "$tags",
                    "includeArrayIndex": "i",
                    "preserveNullAndEmptyArrays": True,
                }
            },
        ),
        (
            lambda p: p.lookup("orders", "_id", "user", "orders"),
            {
                "$lookup": {
                    "from": "orders",
                    "localField": "_id",
                    "foreignField": "user",
                    "as": "orders",
                }
            },
        ),
        (
            lambda p: p.lookup(
                "orders",
                as_field="big",
                let={"uid": "$_id"},
                pipeline=AggregationPipeline().match({"$expr": {"$eq": ["$user", "$$uid"]}}),
            ),
            {
                "$lookup": {
                    "from": "orders",
                    "let": {"uid": "$_id"},
                    "pipeline": [{"$match": {"$expr": {"$eq": ["$user", "$$uid"]}}}],
                    "as": "big",
                }
            },
        ),
        (lambda p: p.count(), {"$count": "count"}),
        (lambda p: p.count("n"), {"$count": "n"}),
        (lambda p: p.sort_by_count("status"), {"$sortByCount": "$status"}),
        (
            lambda p: p.sort_by_count({"$toLower": "$s"}),
            {"$sortByCount": {"$toLower": "$s"}},
        ),
        (
            lambda p: p.facet({"n": AggregationPipeline().count("n"), "raw": [{"$limit": 1}]}),
            {"$facet": {"n": [{"$count": "n"}], "raw": [{"$limit": 1}]}},
        ),
        (lambda p: p.replace_root("profile"), {"$replaceRoot": {"newRoot": "$profile"}}),
        (
            lambda p: p.replace_root({"id": "$_id"}),
            {"$replaceRoot": {"newRoot": {"id": "$_id"}}},
        ),
        (lambda p: p.sample(2), {"$sample": {"size": 2}}),
        (lambda p: p.stage({"$set": {"x": 1}}), {"$set": {"x": 1}}),
    ],
)
def test_stage_methods_build_mongodb_stages(make: Any, expected: dict[str, Any]) -> None:
    assert make(AggregationPipeline()).build() == [expected]


async def test_a_long_builder_pipeline_runs() -> None:
    docs = [
        {"_id": i, "tags": ["x", "y"][: i % 3], "score": i, "profile": {"n": i}} for i in range(9)
    ]
    pipeline = (
        AggregationPipeline()
        .match({"score": {"$gte": 1}})
        .unwind("tags", include_array_index="pos")
        .add_fields({"double": {"$multiply": ["$score", 2]}})
        .group("tags", {"n": AggregationOp.COUNT(), "top": AggregationOp.MAX("$double")})
        .sort([("n", -1), ("_id", 1)])
        .project({"_id": 0, "tag": "$_id", "n": 1, "top": 1})
    )
    assert await run(pipeline, docs) == [
        {"n": 6, "top": 16, "tag": "x"},
        {"n": 3, "top": 16, "tag": "y"},
    ]


async def test_sample_and_replace_root_run() -> None:
    docs = [{"_id": i, "profile": {"n": i}} for i in range(20)]
    out = await run(AggregationPipeline().replace_root("profile").sample(3), docs)
    assert len(out) == 3
    assert all(set(d) == {"n"} for d in out)


# -- the user guide's pipelines, exactly as written --------------------------------------


def guide_pipeline_one() -> AggregationPipeline:
    pipeline = (
        AggregationPipeline()
        .match({"status": "active"})
        .group("_id", {"total": AggregationOp.SUM(1)})
        .sort([("total", -1)])
    )
    return pipeline


def guide_pipeline_two() -> AggregationPipeline:
    pipeline = (
        AggregationPipeline()
        .match({"status": "active"})
        .group("_id", {"count": {"$sum": 1}, "avg_score": {"$avg": "$score"}})
    )
    return pipeline


def test_guide_pipelines_build_what_the_guide_means() -> None:
    assert guide_pipeline_one().build() == [
        {"$match": {"status": "active"}},
        {"$group": {"_id": "$_id", "total": {"$sum": 1}}},
        {"$sort": {"total": -1}},
    ]
    assert guide_pipeline_two().build() == [
        {"$match": {"status": "active"}},
        {"$group": {"_id": "$_id", "count": {"$sum": 1}, "avg_score": {"$avg": "$score"}}},
    ]


async def insert_results(store: Any) -> dict[Any, int]:
    """Insert the guide's "results" (ids generated by the store); map id -> score."""
    documents = [{k: v for k, v in d.items() if k != "_id"} for d in RESULTS]
    inserted = await store.collection("results").insert_many(documents)
    return {
        inserted_id: document["score"]
        for inserted_id, document in zip(inserted.inserted_ids, documents, strict=True)
        if document["status"] == "active"
    }


async def test_guide_pipeline_one_runs_on_every_backend(store: Any) -> None:
    active = await insert_results(store)
    pipeline = guide_pipeline_one()
    out = [doc async for doc in store.collection("results").aggregate(pipeline.build())]
    assert len(out) == 2
    assert {doc["_id"] for doc in out} == set(active)
    assert all(doc == {"_id": doc["_id"], "total": 1} for doc in out)


async def test_guide_pipeline_two_runs_on_every_backend(store: Any) -> None:
    active = await insert_results(store)
    pipeline = guide_pipeline_two()
    seen = []
    async for doc in store.collection("results").aggregate(pipeline.build()):
        seen.append(doc)
    assert len(seen) == 2
    for doc in seen:
        assert doc == {"_id": doc["_id"], "count": 1, "avg_score": float(active[doc["_id"]])}
