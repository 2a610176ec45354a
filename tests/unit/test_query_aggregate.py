"""Aggregation pipelines on the Python engine: validation, every stage and accumulator,
MongoDB edge cases, streaming and the bounded top-k sort."""

from __future__ import annotations

import copy
import random
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from lexigram_nosql.errors import InvalidQueryError
from lexigram_nosql.query import aggregate
from lexigram_nosql.query.aggregate import run_pipeline
from lexigram_nosql.query.aggregate_parse import parse_pipeline
from lexigram_nosql.query.ordering import document_sort_key

Docs = list[dict[str, Any]]


async def source(documents: Docs) -> AsyncIterator[dict[str, Any]]:
    for document in documents:
        yield document


class Collections:
    """A LookupSource over named in-memory collections that counts reads."""

    def __init__(self, **collections: Docs) -> None:
        self.collections = collections
        self.opened: list[str] = []

    def __call__(self, name: str) -> AsyncIterator[dict[str, Any]]:
        self.opened.append(name)
        return source(self.collections.get(name, []))


async def run(
    pipeline: list[dict[str, Any]], documents: Docs, lookup: Collections | None = None
) -> Docs:
    parsed = parse_pipeline(pipeline)
    return [document async for document in run_pipeline(parsed, source(documents), lookup=lookup)]


PEOPLE: Docs = [
    {"_id": 1, "name": "ann", "status": "active", "score": 10, "tags": ["a", "b"], "age": 30},
    {"_id": 2, "name": "bob", "status": "inactive", "score": 5, "tags": [], "age": 25},
    {"_id": 3, "name": "cid", "status": "active", "score": 7.5, "tags": ["b"], "age": None},
    {"_id": 4, "name": "dee", "status": "active", "score": "n/a", "age": 41},
    {"_id": 5, "name": "eve", "score": 3, "tags": "solo"},
]


# -- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        ({"$match": {}}, "must be a list of stage documents"),
        ("[]", "must be a list of stage documents"),
        ([{}], "exactly one key"),
        ([{"$match": {}, "$limit": 1}], "exactly one key"),
        (["$match"], "exactly one key"),
        ([{"$match": {}}, {"$bogus": 1}], r"Pipeline stage 1 \(\$bogus\) is not a supported"),
        ([{"$out": "other"}], r"Pipeline stage 0 \(\$out\) writes to a collection"),
        ([{"$limit": 1}, {"$merge": {"into": "x"}}], r"stage 1 \(\$merge\) writes"),
        ([{"$match": {"$where": "this.a"}}], r"stage 0 \(\$match\) uses \$where"),
        (
            [{"$addFields": {"x": {"$function": {"body": "f", "args": [], "lang": "js"}}}}],
            r"\$function",
        ),
        ([{"$group": {"_id": None, "x": {"$accumulator": {}}}}], r"uses \$accumulator"),
        ([{"$facet": {"f": [{"$match": {"$where": "1"}}]}}], r"\$where"),
        ([{"$limit": 0}], r"Pipeline stage 0 \(\$limit\).*positive integer, got 0"),
        ([{"$limit": -1}], "positive integer"),
        ([{"$limit": True}], "positive integer"),
        ([{"$limit": 1.5}], "positive integer"),
        ([{"$skip": -1}], "non-negative integer"),
        ([{"$skip": "1"}], "non-negative integer"),
        ([{"$sort": {}}], "non-empty document"),
        ([{"$sort": {"a": 2}}], "must be 1 or -1"),
        ([{"$sort": {"a": {"$meta": "textScore"}}}], r"\$meta sorts are not supported"),
        ([{"$sort": {"$a": 1}}], "sort key"),
        ([{"$group": {"total": {"$sum": 1}}}], "'_id' key"),
        ([{"$group": {"_id": None, "a.b": {"$sum": 1}}}], "without '.'"),
        ([{"$group": {"_id": None, "x": {"$median": 1}}}], "unknown accumulator '\\$median'"),
        ([{"$group": {"_id": None, "x": {"$sum": 1, "$avg": 1}}}], "exactly one accumulator"),
        ([{"$group": {"_id": None, "x": {"$count": 1}}}], "empty document"),
        ([{"$group": {"_id": None, "x": {"$sum": [1, 2]}}}], "unary operator"),
        ([{"$group": {"_id": {"$bad": 1}}}], "Unknown expression operator"),
        ([{"$count": "$n"}], "not starting with '\\$'"),
        ([{"$count": ""}], "non-empty"),
        ([{"$count": "a.b"}], "without '.'"),
        ([{"$unwind": "tags"}], "starting with '\\$'"),
        ([{"$unwind": {"path": "$tags", "bogus": 1}}], "does not accept"),
        ([{"$unwind": {"path": "$t", "preserveNullAndEmptyArrays": 1}}], "must be a boolean"),
        ([{"$unwind": {"path": "$t", "includeArrayIndex": "$i"}}], "includeArrayIndex"),
        ([{"$project": {}}], "non-empty document"),
        ([{"$project": {"a": 1, "b": 0}}], "cannot mix exclusion"),
        ([{"$project": {"a": 0, "b": "$x"}}], "cannot mix exclusion"),
        ([{"$project": {"a": 1, "a.b": 1}}], "path collision"),
        ([{"$project": {"a": {}}}], "empty document"),
        ([{"$project": {"a..b": 1}}], "empty segment"),
        ([{"$addFields": {"a": {"$nope": 1}}}], r"field 'a': Unknown expression operator"),
        ([{"$unset": []}], "non-empty list"),
        ([{"$unset": ["a", "$b"]}], "cannot start a segment"),
        ([{"$replaceRoot": {"root": "$a"}}], "newRoot"),
        ([{"$sample": {}}], "size"),
        ([{"$sample": {"size": -1}}], "non-negative"),
        ([{"$lookup": {"from": "x", "localField": "a", "foreignField": "b"}}], "'as'"),
        ([{"$lookup": {"from": "x", "localField": "a", "as": "j"}}], "both localField"),
        ([{"$lookup": {"from": "x", "as": "j"}}], "or a pipeline"),
        ([{"$lookup": {"from": "", "localField": "a", "foreignField": "b", "as": "j"}}], "from"),
        (
            [
                {
                    "$lookup": {
                        "from": "x",
                        "localField": "a",
                        "foreignField": "b",
                        "let": {},
                        "as": "j",
                    }
                }
            ],
            "'let' is only allowed",
        ),
        ([{"$lookup": {"from": "x", "let": {"Bad": 1}, "pipeline": [], "as": "j"}}], "variable"),
        ([{"$lookup": {"from": "x", "pipeline": [{"$out": "y"}], "as": "j"}}], "pipeline"),
        ([{"$facet": {}}], "non-empty"),
        ([{"$facet": {"a": [{"$facet": {"b": []}}]}}], "cannot be used inside \\$facet"),
        ([{"$facet": {"a.b": []}}], "facet name"),
        ([{"$facet": {"a": [{"$limit": 0}]}}], "facet 'a'"),
        ([{"$match": "status"}], "filter document"),
        ([{"$match": {"a": {"$bogus": 1}}}], r"Pipeline stage 0 \(\$match\)"),
    ],
)
def test_invalid_pipelines_are_refused(pipeline: Any, message: str) -> None:
    with pytest.raises(InvalidQueryError, match=message):
        parse_pipeline(pipeline)


def test_errors_carry_the_operator_and_path() -> None:
    with pytest.raises(InvalidQueryError) as info:
        parse_pipeline([{"$match": {}}, {"$project": {"a": 1, "b": 0}}])
    assert "Pipeline stage 1 ($project)" in info.value.message
    assert info.value.operator == "$project"
    assert info.value.path == "b"
    with pytest.raises(InvalidQueryError) as info:
        parse_pipeline([{"$out": "x"}])
    assert info.value.operator == "$out"


def test_literal_documents_may_contain_forbidden_names() -> None:
    parse_pipeline([{"$addFields": {"x": {"$literal": {"$function": "text"}}}}])


def test_parsed_stages_keep_the_raw_document_and_a_parsed_form() -> None:
    parsed = parse_pipeline([{"$match": {"a": 1}}, {"$limit": 2.0}])
    assert [stage.name for stage in parsed.stages] == ["$match", "$limit"]
    assert parsed.stages[0].raw == {"$match": {"a": 1}}
    assert parsed.stages[1].parsed == 2


def test_an_empty_pipeline_returns_the_source() -> None:
    assert parse_pipeline([]).stages == ()


async def test_empty_pipeline_passes_documents_through() -> None:
    assert await run([], PEOPLE) == PEOPLE


# -- $match ------------------------------------------------------------------------------


async def test_match_filters_with_query_semantics() -> None:
    out = await run([{"$match": {"status": "active", "tags": "b"}}], PEOPLE)
    assert [d["_id"] for d in out] == [1, 3]


async def test_match_with_expr() -> None:
    out = await run([{"$match": {"$expr": {"$gt": ["$age", 29]}}}], PEOPLE)
    assert [d["_id"] for d in out] == [1, 4]


async def test_match_null_matches_missing_and_null() -> None:
    out = await run([{"$match": {"age": None}}], PEOPLE)
    assert [d["_id"] for d in out] == [3, 5]


# -- $project ----------------------------------------------------------------------------


async def test_project_inclusion_keeps_document_order_and_id() -> None:
    out = await run([{"$project": {"score": 1, "name": 1}}], PEOPLE[:1])
    assert list(out[0].items()) == [("_id", 1), ("name", "ann"), ("score", 10)]


async def test_project_can_exclude_id() -> None:
    assert await run([{"$project": {"name": 1, "_id": 0}}], PEOPLE[:1]) == [{"name": "ann"}]


async def test_project_exclusion() -> None:
    out = await run([{"$project": {"tags": 0, "age": 0, "status": 0}}], PEOPLE[:1])
    assert out == [{"_id": 1, "name": "ann", "score": 10}]


async def test_project_only_id_exclusion_keeps_everything_else() -> None:
    out = await run([{"$project": {"_id": 0}}], [{"_id": 1, "a": 2}])
    assert out == [{"a": 2}]


async def test_project_exclusion_may_name_id_included() -> None:
    out = await run([{"$project": {"_id": 1, "a": 0}}], [{"_id": 1, "a": 2, "b": 3}])
    assert out == [{"_id": 1, "b": 3}]


async def test_project_computed_fields_come_after_included_ones() -> None:
    spec = {"label": {"$toUpper": "$name"}, "name": 1, "gone": "$nope", "lit": "text"}
    out = await run([{"$project": spec}], PEOPLE[:1])
    assert list(out[0].items()) == [("_id", 1), ("name", "ann"), ("label", "ANN"), ("lit", "text")]


async def test_project_nested_paths_both_spellings() -> None:
    docs = [{"_id": 1, "a": {"b": 1, "c": 2}, "x": 9}]
    dotted = await run([{"$project": {"a.b": 1}}], docs)
    nested = await run([{"$project": {"a": {"b": 1}}}], docs)
    assert dotted == nested == [{"_id": 1, "a": {"b": 1}}]


async def test_project_through_arrays_of_documents() -> None:
    docs = [{"_id": 1, "a": [{"b": 1, "c": 2}, {"c": 3}, 5, [{"b": 4}]]}]
    assert await run([{"$project": {"a.b": 1, "_id": 0}}], docs) == [
        {"a": [{"b": 1}, {}, [{"b": 4}]]}
    ]
    assert await run([{"$project": {"a.c": 0, "_id": 0}}], docs) == [
        {"a": [{"b": 1}, {}, 5, [{"b": 4}]]}
    ]


async def test_project_computed_sub_field_creates_its_parent() -> None:
    out = await run([{"$project": {"meta.name": "$name", "_id": 0}}], PEOPLE[:1])
    assert out == [{"meta": {"name": "ann"}}]


async def test_project_can_compute_id() -> None:
    out = await run([{"$project": {"_id": "$name", "score": 1}}], PEOPLE[:1])
    assert out == [{"_id": "ann", "score": 10}]


async def test_project_remove_variable_drops_the_field() -> None:
    spec = {"name": 1, "age": {"$cond": [{"$gt": ["$age", 35]}, "$age", "$$REMOVE"]}}
    out = await run([{"$project": spec}], PEOPLE[:1] + PEOPLE[3:4])
    assert out == [{"_id": 1, "name": "ann"}, {"_id": 4, "name": "dee", "age": 41}]


# -- $addFields / $set / $unset ------------------------------------------------------------


async def test_add_fields_appends_new_and_replaces_in_place() -> None:
    out = await run(
        [{"$addFields": {"score": 0, "double": {"$multiply": [2, "$age"]}}}], PEOPLE[:1]
    )
    assert list(out[0]) == ["_id", "name", "status", "score", "tags", "age", "double"]
    assert out[0]["score"] == 0 and out[0]["double"] == 60


async def test_set_is_an_alias_of_add_fields() -> None:
    assert await run([{"$set": {"x": 1}}], [{"_id": 1}]) == [{"_id": 1, "x": 1}]


async def test_add_fields_merges_into_embedded_documents() -> None:
    docs = [{"_id": 1, "spec": {"a": 1}}]
    dotted = await run([{"$addFields": {"spec.b": 2}}], docs)
    nested = await run([{"$addFields": {"spec": {"b": 2}}}], docs)
    assert dotted == nested == [{"_id": 1, "spec": {"a": 1, "b": 2}}]


async def test_add_fields_into_arrays_sets_each_element() -> None:
    out = await run([{"$addFields": {"a.k": 1}}], [{"_id": 1, "a": [{"x": 1}, 2]}])
    assert out == [{"_id": 1, "a": [{"x": 1, "k": 1}, {"k": 1}]}]


async def test_add_fields_remove_deletes_an_existing_field() -> None:
    out = await run([{"$addFields": {"name": "$$REMOVE", "none": "$nope"}}], PEOPLE[:1])
    assert "name" not in out[0] and "none" not in out[0]


async def test_add_fields_literal_numbers_are_values_not_inclusions() -> None:
    assert await run([{"$addFields": {"one": 1, "no": False}}], [{"_id": 1}]) == [
        {"_id": 1, "one": 1, "no": False}
    ]


async def test_unset_string_list_and_nested() -> None:
    docs = [{"_id": 1, "a": 1, "b": {"c": 1, "d": 2}, "e": 3}]
    assert await run([{"$unset": "a"}], docs) == [{"_id": 1, "b": {"c": 1, "d": 2}, "e": 3}]
    assert await run([{"$unset": ["a", "b.c"]}], docs) == [{"_id": 1, "b": {"d": 2}, "e": 3}]


# -- $replaceRoot / $replaceWith -----------------------------------------------------------


async def test_replace_root_and_replace_with() -> None:
    docs = [{"_id": 1, "inner": {"x": 1}}]
    assert await run([{"$replaceRoot": {"newRoot": "$inner"}}], docs) == [{"x": 1}]
    expression = {"id": "$_id", "x": "$inner.x"}
    assert await run([{"$replaceWith": expression}], docs) == [{"id": 1, "x": 1}]


@pytest.mark.parametrize("root", ["$nope", "$name", "$tags"])
async def test_replace_root_requires_a_document(root: str) -> None:
    with pytest.raises(InvalidQueryError, match="must evaluate to a document") as info:
        await run([{"$replaceRoot": {"newRoot": root}}], PEOPLE[:1])
    assert info.value.operator == "$replaceRoot"


# -- $group and accumulators -------------------------------------------------------------


async def test_group_null_key_is_one_group() -> None:
    out = await run([{"$group": {"_id": None, "n": {"$sum": 1}}}], PEOPLE)
    assert out == [{"_id": None, "n": 5}]


async def test_group_by_path_in_first_seen_order_missing_and_null_together() -> None:
    docs = [{"k": "b"}, {"k": None}, {"k": "a"}, {}, {"k": "b"}]
    out = await run([{"$group": {"_id": "$k", "n": {"$count": {}}}}], docs)
    assert out == [{"_id": "b", "n": 2}, {"_id": None, "n": 2}, {"_id": "a", "n": 1}]


async def test_group_numbers_of_different_types_are_one_group_but_bools_are_not() -> None:
    docs = [{"k": 1}, {"k": 1.0}, {"k": True}]
    out = await run([{"$group": {"_id": "$k", "n": {"$sum": 1}}}], docs)
    assert out == [{"_id": 1, "n": 2}, {"_id": True, "n": 1}]


async def test_group_compound_key_and_expression_key() -> None:
    docs = [{"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 1}]
    out = await run([{"$group": {"_id": {"a": "$a", "b": "$b"}, "n": {"$sum": 1}}}], docs)
    assert out == [{"_id": {"a": 1, "b": 2}, "n": 2}, {"_id": {"a": 1}, "n": 1}]
    out = await run([{"$group": {"_id": {"$mod": ["$a", 2]}}}], docs)
    assert out == [{"_id": 1}]


async def test_group_key_documents_compare_with_field_order() -> None:
    docs = [{"k": {"x": 1, "y": 2}}, {"k": {"y": 2, "x": 1}}]
    out = await run([{"$group": {"_id": "$k"}}], docs)
    assert len(out) == 2


async def test_group_array_keys_group_whole_arrays() -> None:
    docs = [{"k": [1, 2]}, {"k": [1, 2]}, {"k": [2, 1]}]
    out = await run([{"$group": {"_id": "$k", "n": {"$sum": 1}}}], docs)
    assert out == [{"_id": [1, 2], "n": 2}, {"_id": [2, 1], "n": 1}]


VALUES: Docs = [
    {"v": 3},
    {"v": "x"},
    {"v": None},
    {},
    {"v": 1.5},
    {"v": True},
    {"v": [10, 20]},
    {"v": 3},
]


@pytest.mark.parametrize(
    ("accumulator", "expected"),
    [
        ({"$sum": "$v"}, 7.5),  # strings, bools, arrays, null and missing ignored
        ({"$sum": 1}, 8),
        ({"$avg": "$v"}, 2.5),
        ({"$min": "$v"}, 1.5),  # null and missing ignored; numbers sort first
        ({"$max": "$v"}, True),  # bool sorts after arrays and strings
        ({"$first": "$v"}, 3),
        ({"$last": "$v"}, 3),
        ({"$push": "$v"}, [3, "x", None, 1.5, True, [10, 20], 3]),  # missing skipped
        ({"$addToSet": "$v"}, [3, "x", None, 1.5, True, [10, 20]]),
        ({"$count": {}}, 8),
    ],
)
async def test_accumulators(accumulator: dict[str, Any], expected: Any) -> None:
    out = await run([{"$group": {"_id": None, "r": accumulator}}], VALUES)
    assert out == [{"_id": None, "r": expected}]
    assert type(out[0]["r"]) is type(expected)


@pytest.mark.parametrize(
    ("accumulator", "expected"),
    [
        ({"$sum": "$v"}, 0),
        ({"$avg": "$v"}, None),
        ({"$min": "$v"}, None),
        ({"$max": "$v"}, None),
        ({"$first": "$v"}, None),
        ({"$last": "$v"}, None),
        ({"$push": "$v"}, []),
        ({"$addToSet": "$v"}, []),
    ],
)
async def test_accumulators_over_missing_values(accumulator: dict[str, Any], expected: Any) -> None:
    out = await run([{"$group": {"_id": None, "r": accumulator}}], [{}])
    assert out == [{"_id": None, "r": expected}]


async def test_sum_of_integers_stays_an_integer_and_avg_is_a_double() -> None:
    out = await run(
        [{"$group": {"_id": None, "s": {"$sum": "$v"}, "a": {"$avg": "$v"}}}],
        [{"v": 1}, {"v": 2}],
    )
    assert out == [{"_id": None, "s": 3, "a": 1.5}]
    assert isinstance(out[0]["s"], int)


async def test_add_to_set_uses_mongodb_equality() -> None:
    out = await run(
        [{"$group": {"_id": None, "s": {"$addToSet": "$v"}}}],
        [{"v": 1}, {"v": 1.0}, {"v": True}, {"v": {"a": 1}}, {"v": {"a": 1}}],
    )
    assert out == [{"_id": None, "s": [1, True, {"a": 1}]}]


async def test_first_and_last_report_missing_as_null() -> None:
    out = await run(
        [{"$group": {"_id": None, "f": {"$first": "$v"}, "l": {"$last": "$v"}}}],
        [{}, {"v": 2}, {}],
    )
    assert out == [{"_id": None, "f": None, "l": None}]


async def test_group_accumulators_take_expressions() -> None:
    out = await run(
        [{"$group": {"_id": "$status", "total": {"$sum": {"$multiply": ["$age", 2]}}}}],
        PEOPLE[:3],
    )
    assert out == [{"_id": "active", "total": 60}, {"_id": "inactive", "total": 50}]


async def test_group_output_order_is_deterministic() -> None:
    docs = [{"k": random.Random(7).randrange(50)} for _ in range(200)]
    first = await run([{"$group": {"_id": "$k"}}], docs)
    second = await run([{"$group": {"_id": "$k"}}], docs)
    assert first == second


# -- $sort, $skip, $limit ----------------------------------------------------------------


async def test_sort_uses_mongodb_cross_type_order() -> None:
    docs = [
        {"_id": 1, "v": "b"},
        {"_id": 2, "v": 10},
        {"_id": 3},
        {"_id": 4, "v": None},
        {"_id": 5, "v": {"a": 1}},
        {"_id": 6, "v": True},
        {"_id": 7, "v": 2.5},
        {"_id": 8, "v": datetime(2020, 1, 1)},
    ]
    out = await run([{"$sort": {"v": 1, "_id": 1}}], docs)
    assert [d["_id"] for d in out] == [3, 4, 7, 2, 1, 5, 6, 8]


async def test_sort_on_several_keys_and_directions() -> None:
    out = await run([{"$sort": {"status": -1, "age": 1}}], PEOPLE)
    assert [d["_id"] for d in out] == [2, 3, 1, 4, 5]


async def test_sort_is_stable_for_ties() -> None:
    docs = [{"_id": i, "k": i % 2} for i in range(6)]
    out = await run([{"$sort": {"k": 1}}], docs)
    assert [d["_id"] for d in out] == [0, 2, 4, 1, 3, 5]


async def test_skip_and_limit() -> None:
    out = await run([{"$skip": 1}, {"$limit": 2}], PEOPLE)
    assert [d["_id"] for d in out] == [2, 3]
    assert await run([{"$skip": 10}], PEOPLE) == []
    assert len(await run([{"$limit": 100}], PEOPLE)) == 5


# -- $unwind -----------------------------------------------------------------------------


async def test_unwind_string_form() -> None:
    out = await run([{"$unwind": "$tags"}], PEOPLE)
    assert [(d["_id"], d["tags"]) for d in out] == [(1, "a"), (1, "b"), (3, "b"), (5, "solo")]


async def test_unwind_include_array_index() -> None:
    out = await run([{"$unwind": {"path": "$tags", "includeArrayIndex": "i"}}], PEOPLE)
    assert [(d["_id"], d["i"]) for d in out] == [(1, 0), (1, 1), (3, 0), (5, None)]
    assert isinstance(out[0]["i"], int)


async def test_unwind_preserve_null_and_empty_arrays() -> None:
    spec = {"path": "$tags", "preserveNullAndEmptyArrays": True, "includeArrayIndex": "i"}
    out = await run([{"$unwind": spec}], [*PEOPLE, {"_id": 6, "tags": None}])
    shaped = [(d["_id"], d.get("tags", "<missing>"), d["i"]) for d in out]
    assert shaped == [
        (1, "a", 0),
        (1, "b", 1),
        (2, "<missing>", None),  # an empty array is removed
        (3, "b", 0),
        (4, "<missing>", None),
        (5, "solo", None),
        (6, None, None),  # null stays
    ]


async def test_unwind_nested_path() -> None:
    docs = [{"_id": 1, "a": {"b": [1, 2], "c": 0}}]
    out = await run([{"$unwind": "$a.b"}], docs)
    assert out == [{"_id": 1, "a": {"b": 1, "c": 0}}, {"_id": 1, "a": {"b": 2, "c": 0}}]


# -- $count, $sortByCount, $sample -------------------------------------------------------


async def test_count() -> None:
    assert await run([{"$match": {"status": "active"}}, {"$count": "n"}], PEOPLE) == [{"n": 3}]


async def test_count_of_nothing_outputs_nothing() -> None:
    assert await run([{"$count": "n"}], []) == []


async def test_sort_by_count() -> None:
    out = await run([{"$sortByCount": "$status"}], PEOPLE)
    assert out == [
        {"_id": "active", "count": 3},
        {"_id": "inactive", "count": 1},
        {"_id": None, "count": 1},
    ]


async def test_sort_by_count_of_unwound_tags() -> None:
    out = await run([{"$unwind": "$tags"}, {"$sortByCount": "$tags"}], PEOPLE)
    assert out[0] == {"_id": "b", "count": 2}


async def test_sample_returns_distinct_documents_from_the_input() -> None:
    docs = [{"_id": i} for i in range(50)]
    out = await run([{"$sample": {"size": 5}}], docs)
    assert len(out) == 5
    assert len({d["_id"] for d in out}) == 5
    assert all(d in docs for d in out)


async def test_sample_larger_than_input_returns_everything() -> None:
    out = await run([{"$sample": {"size": 10}}], PEOPLE)
    assert sorted(d["_id"] for d in out) == [1, 2, 3, 4, 5]


async def test_sample_is_random() -> None:
    docs = [{"_id": i} for i in range(100)]
    picks = {tuple(d["_id"] for d in await run([{"$sample": {"size": 3}}], docs)) for _ in range(5)}
    assert len(picks) > 1


# -- $lookup -----------------------------------------------------------------------------

ORDERS: Docs = [
    {"_id": "o1", "user": 1, "total": 10},
    {"_id": "o2", "user": 1, "total": 5},
    {"_id": "o3", "user": 3, "total": 7},
    {"_id": "o4", "total": 1},
    {"_id": "o5", "user": [2, 3], "total": 2},
]


async def test_lookup_equality_form() -> None:
    lookup = Collections(orders=ORDERS)
    spec = {"from": "orders", "localField": "_id", "foreignField": "user", "as": "orders"}
    out = await run([{"$match": {"_id": {"$in": [1, 2, 4]}}}, {"$lookup": spec}], PEOPLE, lookup)
    assert [[o["_id"] for o in d["orders"]] for d in out] == [["o1", "o2"], ["o5"], []]
    assert lookup.opened == ["orders"]  # read once, not per document


async def test_lookup_local_array_matches_any_element() -> None:
    lookup = Collections(users=PEOPLE)
    spec = {"from": "users", "localField": "user", "foreignField": "_id", "as": "users"}
    out = await run([{"$lookup": spec}], ORDERS[4:], lookup)
    assert [u["_id"] for u in out[0]["users"]] == [2, 3]


async def test_lookup_missing_local_value_matches_null_and_missing() -> None:
    lookup = Collections(other=[{"_id": "x", "k": None}, {"_id": "y"}, {"_id": "z", "k": 1}])
    spec = {"from": "other", "localField": "nope", "foreignField": "k", "as": "j"}
    out = await run([{"$lookup": spec}], [{"_id": 1}], lookup)
    assert [j["_id"] for j in out[0]["j"]] == ["x", "y"]


async def test_lookup_into_a_dotted_field() -> None:
    lookup = Collections(orders=ORDERS)
    spec = {"from": "orders", "localField": "_id", "foreignField": "user", "as": "meta.orders"}
    out = await run([{"$lookup": spec}], [{"_id": 3, "meta": {"k": 1}}], lookup)
    assert out[0]["meta"]["k"] == 1
    assert [o["_id"] for o in out[0]["meta"]["orders"]] == ["o3", "o5"]


async def test_lookup_outputs_do_not_share_joined_documents() -> None:
    lookup = Collections(tags=[{"_id": "t", "n": 1}])
    spec = {"from": "tags", "localField": "k", "foreignField": "n", "as": "j"}
    out = await run([{"$lookup": spec}], [{"k": 1}, {"k": 1}], lookup)
    out[0]["j"][0]["n"] = 99
    assert out[1]["j"][0]["n"] == 1


async def test_lookup_pipeline_form_with_let() -> None:
    lookup = Collections(orders=ORDERS)
    spec = {
        "from": "orders",
        "let": {"uid": "$_id", "min": "$score"},
        "pipeline": [
            {"$match": {"$expr": {"$and": [{"$eq": ["$user", "$$uid"]}, {"$gte": ["$total", 6]}]}}},
            {"$project": {"_id": 1}},
        ],
        "as": "big",
    }
    out = await run([{"$lookup": spec}], PEOPLE[:3], lookup)
    assert [d["big"] for d in out] == [[{"_id": "o1"}], [], [{"_id": "o3"}]]


async def test_lookup_pipeline_combined_with_equality() -> None:
    lookup = Collections(orders=ORDERS)
    spec = {
        "from": "orders",
        "localField": "_id",
        "foreignField": "user",
        "pipeline": [{"$group": {"_id": None, "sum": {"$sum": "$total"}}}],
        "as": "totals",
    }
    out = await run([{"$lookup": spec}], PEOPLE[:1], lookup)
    assert out[0]["totals"] == [{"_id": None, "sum": 15}]


async def test_lookup_without_a_source_is_refused_before_reading() -> None:
    spec = {"from": "orders", "localField": "_id", "foreignField": "user", "as": "j"}
    parsed = parse_pipeline([{"$lookup": spec}])
    with pytest.raises(InvalidQueryError, match="needs a store"):
        run_pipeline(parsed, source(PEOPLE))


# -- $facet ------------------------------------------------------------------------------


async def test_facet_runs_each_sub_pipeline_over_the_same_documents() -> None:
    facet = {
        "by_status": [{"$sortByCount": "$status"}],
        "top": [{"$sort": {"age": -1}}, {"$limit": 1}, {"$project": {"name": 1, "_id": 0}}],
        "total": [{"$count": "n"}],
    }
    out = await run([{"$facet": facet}], PEOPLE)
    assert out == [
        {
            "by_status": [
                {"_id": "active", "count": 3},
                {"_id": "inactive", "count": 1},
                {"_id": None, "count": 1},
            ],
            "top": [{"name": "dee"}],
            "total": [{"n": 5}],
        }
    ]


async def test_facet_of_nothing_outputs_empty_facets() -> None:
    out = await run([{"$facet": {"a": [{"$match": {}}], "n": [{"$count": "n"}]}}], [])
    assert out == [{"a": [], "n": []}]


async def test_facet_sub_pipelines_may_lookup() -> None:
    lookup = Collections(orders=ORDERS)
    spec = {"from": "orders", "localField": "_id", "foreignField": "user", "as": "o"}
    out = await run([{"$facet": {"j": [{"$lookup": spec}]}}], PEOPLE[:1], lookup)
    assert len(out[0]["j"][0]["o"]) == 2


# -- streaming ---------------------------------------------------------------------------


class CountingSource:
    """An async generator source that records how many documents were read and whether
    it was closed."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.read = 0
        self.closed = False

    async def stream(self) -> AsyncIterator[dict[str, Any]]:
        try:
            index = 0
            while self.total is None or index < self.total:
                self.read += 1
                yield {"_id": index, "even": index % 2 == 0}
                index += 1
        finally:
            self.closed = True


async def consume(pipeline: list[dict[str, Any]], counting: CountingSource) -> Docs:
    stream = run_pipeline(parse_pipeline(pipeline), counting.stream())
    try:
        return [document async for document in stream]
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


async def test_limit_stops_reading_the_source_early_and_closes_it() -> None:
    counting = CountingSource(1000)
    out = await consume(
        [{"$match": {"even": True}}, {"$project": {"even": 0}}, {"$limit": 3}], counting
    )
    assert out == [{"_id": 0}, {"_id": 2}, {"_id": 4}]
    assert counting.read == 5
    assert counting.closed


async def test_streaming_stages_work_on_an_endless_source() -> None:
    counting = CountingSource(None)
    pipeline = [
        {"$addFields": {"tags": ["x", "y"]}},
        {"$unwind": "$tags"},
        {"$skip": 3},
        {"$replaceRoot": {"newRoot": {"id": "$_id", "t": "$tags"}}},
        {"$unset": "t"},
        {"$limit": 2},
    ]
    assert await consume(pipeline, counting) == [{"id": 1}, {"id": 2}]
    assert counting.read == 3


async def test_first_result_arrives_before_the_source_is_exhausted() -> None:
    counting = CountingSource(None)
    stream = run_pipeline(parse_pipeline([{"$match": {"_id": {"$gte": 10}}}]), counting.stream())
    assert await anext(stream) == {"_id": 10, "even": True}
    assert counting.read == 11
    await stream.aclose()  # type: ignore[attr-defined]
    assert counting.closed


async def test_consuming_stages_close_their_source() -> None:
    counting = CountingSource(10)
    assert await consume([{"$group": {"_id": "$even"}}], counting) == [
        {"_id": True},
        {"_id": False},
    ]
    assert counting.closed


# -- top-k -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stages", "bound"),
    [
        ([{"$sort": {"a": 1}}, {"$limit": 5}], 5),
        ([{"$sort": {"a": 1}}, {"$skip": 2}, {"$limit": 5}], 7),
        ([{"$sort": {"a": 1}}, {"$match": {}}, {"$limit": 5}], None),
        ([{"$sort": {"a": 1}}], None),
        ([{"$sort": {"a": 1}}, {"$skip": 2}], None),
    ],
)
def test_sort_keeps_only_what_a_following_limit_needs(
    stages: list[dict[str, Any]], bound: int | None
) -> None:
    parsed = parse_pipeline(stages)
    assert aggregate._sort_bound(parsed.stages, 0) == bound


@pytest.mark.parametrize("seed", range(5))
async def test_top_k_equals_a_full_sort_then_limit(seed: int) -> None:
    rng = random.Random(seed)
    values: list[Any] = [1, 2, 2.0, "a", None, [3, 1], {"x": 1}, True]
    docs = [{"_id": i, "k": rng.choice(values), "j": rng.randrange(3)} for i in range(200)]
    if seed % 2:
        for doc in docs[::7]:
            del doc["k"]
    spec = [("k", -1 if seed % 3 else 1), ("j", 1)]
    expected = sorted(docs, key=document_sort_key(spec))
    sort_stage = {"$sort": dict(spec)}
    assert await run([sort_stage, {"$limit": 17}], docs) == expected[:17]
    assert await run([sort_stage, {"$skip": 5}, {"$limit": 9}], docs) == expected[5:14]


async def test_top_k_holds_at_most_k_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real_replace = aggregate.heapq.heapreplace

    def spy(heap: list[Any], item: Any) -> Any:
        sizes.append(len(heap))
        return real_replace(heap, item)

    monkeypatch.setattr(aggregate.heapq, "heapreplace", spy)
    docs = [{"_id": i, "k": -i} for i in range(300)]
    out = await run([{"$sort": {"k": 1}}, {"$limit": 4}], docs)
    assert [d["_id"] for d in out] == [299, 298, 297, 296]
    assert sizes and max(sizes) == 4


# -- isolation ---------------------------------------------------------------------------


async def test_input_documents_are_never_modified() -> None:
    docs = copy.deepcopy(PEOPLE)
    before = copy.deepcopy(docs)
    lookup = Collections(people=docs)
    pipeline = [
        {"$addFields": {"extra": 1, "tags.k": 1}},
        {"$unset": "name"},
        {"$unwind": {"path": "$tags", "preserveNullAndEmptyArrays": True}},
        {"$lookup": {"from": "people", "localField": "_id", "foreignField": "_id", "as": "me"}},
        {"$project": {"me": 0}},
    ]
    await run(pipeline, docs, lookup)
    assert docs == before
