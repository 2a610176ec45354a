"""The MongoDB server the MongoDB backends are tested against, shared by
``backend_mongodb_pymongo`` and ``backend_mongodb_motor``.

A real server named by ``LEXIGRAM_NOSQL_TEST_MONGODB_URI`` takes precedence; otherwise the
CongoDB test server that ``scripts/services.sh up congodb`` starts
(``LEXIGRAM_NOSQL_TEST_CONGODB_URI``). CongoDB speaks the wire protocol but gets some things
wrong; ``CONGODB_GAPS`` lists them, and they are expected failures only against CongoDB.
"""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support import objectid_ids

REAL_URI_ENV = "LEXIGRAM_NOSQL_TEST_MONGODB_URI"
CONGODB_URI_ENV = "LEXIGRAM_NOSQL_TEST_CONGODB_URI"

_UNIQUE = "CongoDB accepts unique indexes but does not enforce them"
_TYPE_ALIASES = "CongoDB's $type does not know this alias or form ('double', lists, array elements)"
_PULL = "CongoDB's $pull treats a condition document as a value to equal"
_SORT = "CongoDB orders missing, null and mixed types unlike MongoDB's comparison order"
_POSITIONAL = (
    "accepts the positional `$` in an update whose query has no array condition; MongoDB "
    "refuses it (the positional operator did not find the match needed from the query)"
)
_ID_MAPPING = (
    "the suite's string ids are mapped to ObjectIds only at the top-level _id (see "
    "objectid_ids); this case compares ids stored elsewhere (a joined field, a $facet output)"
)


def _cases(tests: tuple[str, ...], cases: dict[str, str]) -> dict[str, str]:
    return {f"{test}[{case}]": why for test in tests for case, why in cases.items()}


_OBJECTID_ONLY = (
    "CongoDB stores only ObjectId _ids: it refuses other ids ('input must be a 24 character hex "
    "string', 'Argument passed in does not match the accepted types', sent as error 11000) or "
    "does not find them; MongoDB accepts any _id but an array or a regex"
)

PIPELINE_UPDATES = (
    "CongoDB refuses pipeline-style updates ('Aggregation pipeline updates are not yet "
    "supported'); MongoDB 4.2+ runs them"
)

TOP_LEVEL_DOLLAR_UPDATES = (
    "CongoDB lets an update of an existing document create a top-level $-prefixed field, "
    "which MongoDB 5.0+ refuses (only an upsert that inserts may)"
)

POSITIONAL = (
    "CongoDB does not apply positional paths ($, $[], $[<identifier>]): it matches the "
    "document and leaves it unchanged, or fails; MongoDB 3.6+ applies them"
)

OTHER_ORDER_CASES = (
    "other-order",
    "in-other-order",
    "ne-other-order",
    "element-other-order",
    "array-other-order",
    "sorted-other-order",
)
"""The cases of ``test_embedded_document_equality_depends_on_the_order`` that a server
comparing embedded documents regardless of their field order gets wrong."""

# Conformance test -> what CongoDB (not our backend) gets wrong, in the gaps.py key form.
CONGODB_GAPS: dict[str, str] = {
    **dict.fromkeys(
        (
            "test_a_case_insensitive_collation_is_mongodbs_or_refused_by_name",
            "test_a_case_insensitive_collation_modifier_is_mongodbs_or_refused",
            "test_a_bulk_models_other_collation_is_mongodbs_or_refused_before_any_write",
            "test_a_bulk_models_positional_collation_is_a_collation",
        ),
        "CongoDB ignores a collation and compares binary; MongoDB honours it",
    ),
    **dict.fromkeys(
        (
            "test_a_hint_naming_no_index_is_refused_as_mongodb_refuses_it",
            "test_a_bulk_models_hint_naming_no_index_fails_that_request",
        ),
        'CongoDB ignores a hint naming no index; MongoDB refuses it ("hint provided does not '
        'correspond to an existing index")',
    ),
    **dict.fromkeys(
        (
            "test_let_binds_the_variables_of_expr_and_pipeline_updates",
            "test_a_cursor_with_options_closed_early_reads_nothing_more",
        ),
        'CongoDB does not implement let= ("Use of undefined variable") nor pipeline '
        "updates; MongoDB 5.0+ binds the variables",
    ),
    **dict.fromkeys(
        (
            "test_min_and_max_bound_the_hinted_index_on_mongodb",
            "test_return_key_gives_the_index_keys_on_mongodb",
        ),
        "CongoDB ignores a find's min, max and returnKey and returns every document whole; "
        "MongoDB bounds the hinted index's keys and returns them",
    ),
    "test_explain_describes_the_query_without_reading_the_cursor": (
        "CongoDB has no explain command (\"no such command: 'explain'\"); MongoDB explains a find"
    ),
    "test_a_hinted_sparse_index_reads_what_mongodb_reads_or_is_refused": (
        "CongoDB ignores a count's hint and counts every document; MongoDB reads only what "
        "the hinted sparse index holds"
    ),
    "test_one_updates_new_fields_are_created_in_mongodbs_processing_order": (
        "CongoDB applies an update's fields in the order given; MongoDB 5.0+ applies them in "
        "the order of their names (numeric names numerically), which orders the new fields"
    ),
    "test_projections_and_aggregations_keep_the_stored_order": (
        "CongoDB returns an inclusion projection's fields in the projection's order; MongoDB "
        "keeps the document's order"
    ),
    **_cases(
        ("test_embedded_document_equality_depends_on_the_order",),
        dict.fromkeys(
            OTHER_ORDER_CASES,
            "CongoDB matches an embedded document whatever its field order; MongoDB compares "
            "documents field by field, in order",
        ),
    ),
    **dict.fromkeys(
        [
            "test_integral_floats_read_back_as_floats_at_any_depth",
            "test_type_filters_tell_doubles_from_ints",
            "test_an_update_that_changes_only_the_number_type_modifies",
            "test_arithmetic_and_array_updates_keep_the_number_types",
            "test_a_replacement_keeps_the_number_types",
        ],
        "CongoDB keeps numbers as JavaScript numbers: an integral double (2.0) is stored and "
        "read back as an int32, and $type cannot tell it from one",
    ),
    "test_an_upsert_whose_id_is_taken_by_a_non_matching_document_is_a_duplicate": (
        "CongoDB refuses an upsert whose _id is taken by a document the filter does not "
        "match with error code 1, not MongoDB's duplicate key error 11000"
    ),
    **_cases(
        ("test_an_upsert_cannot_change_the_id_its_filter_gives",),
        dict.fromkeys(
            ["set", "set-on-insert"],
            "CongoDB lets an upsert's update replace the _id its filter gave; MongoDB refuses "
            "it as a change of the immutable _id (error 66)",
        ),
    ),
    "test_an_update_that_does_not_fit_the_document_is_one_error_everywhere": (
        "CongoDB reports a $inc of a string, a $push onto a number and a field created inside "
        "a number with error code 1, not MongoDB's TypeMismatch (14), BadValue (2) and "
        "PathNotViable (28), and lets $set change _id"
    ),
    "test_bit_needs_an_integer_in_the_document": (
        "CongoDB applies $bit to a double; MongoDB refuses a value of non-integral type"
    ),
    "test_unordered_bulk_write_continues_past_errors": (
        "CongoDB's bulk write counts a request that failed as matched (nMatched); MongoDB "
        "counts only the requests that were applied"
    ),
    **dict.fromkeys(
        (
            "test_an_update_of_an_existing_document_cannot_set_a_top_level_dollar_name",
            "test_an_upsert_that_inserts_may_create_a_top_level_dollar_name",
        ),
        TOP_LEVEL_DOLLAR_UPDATES,
    ),
    **dict.fromkeys(
        (
            "test_first_match_positional_on_values",
            "test_first_match_positional_on_embedded_documents",
            "test_first_match_positional_with_elem_match",
            "test_first_match_positional_in_find_one_and_update_and_unset",
            "test_first_match_positional_needs_the_array_in_the_filter",
            "test_all_positional",
            "test_all_positional_on_embedded_documents",
            "test_all_positional_on_a_non_array_is_refused",
            "test_filtered_positional_with_array_filters",
            "test_filtered_positional_on_embedded_fields",
            "test_nested_all_and_filtered_positional",
            "test_bulk_write_with_array_filters",
            "test_find_one_and_update_with_array_filters",
            "test_an_upsert_with_all_positional_needs_the_array_in_the_filter",
            "test_array_filters_with_or",
            "test_bulk_update_models_take_array_filters_by_position",
        ),
        POSITIONAL,
    ),
    **dict.fromkeys(
        (
            "test_update_one_with_a_pipeline",
            "test_update_many_with_a_pipeline",
            "test_find_one_and_update_with_a_pipeline",
            "test_bulk_update_models_with_a_pipeline",
            "test_pipeline_update_upserts",
            "test_a_pipeline_update_sets_dollar_and_dotted_names_with_set_field",
            "test_every_update_method_takes_set_field",
        ),
        PIPELINE_UPDATES,
    ),
    "test_get_set_and_unset_field_in_an_aggregation": (
        "CongoDB's $getField answers an input that is missing with a missing value; MongoDB "
        "answers null"
    ),
    # ids of other types than the short strings objectid_ids maps
    **_cases(
        ("test_every_id_type_round_trips_with_its_type",),
        dict.fromkeys(
            [
                "nul-str",
                "int",
                "negative-int",
                "big-int",
                "float",
                "integral-float",
                "bool",
                "null",
                "document",
                "nested-document",
                "datetime",
                "uuid",
                "bytes",
            ],
            _OBJECTID_ONLY,
        ),
    ),
    **_cases(
        ("test_every_write_creates_the_id_types_of_the_crud_specification",),
        dict.fromkeys(
            [
                "nan",
                "empty-document",
                "empty-bytes",
                "null",
                "zero",
                "int64",
                "decimal128",
                "code",
                "code-with-scope",
                "timestamp",
                "min-key",
                "max-key",
            ],
            _OBJECTID_ONLY,
        ),
    ),
    "test_dotted_names_inside_id_and_replacements_of_every_method": _OBJECTID_ONLY,
    "test_an_int_id_is_never_the_string_of_its_digits": _OBJECTID_ONLY,
    "test_an_integral_float_id_reads_back_as_a_float_found_by_the_int": _OBJECTID_ONLY,
    "test_numeric_ids_are_equal_as_mongodb_compares_numbers": _OBJECTID_ONLY,
    "test_int64_and_decimal128_ids_equal_the_int": _OBJECTID_ONLY,
    "test_in_on_ids_of_mixed_types": _OBJECTID_ONLY,
    "test_a_datetime_id_is_found_in_any_time_zone": _OBJECTID_ONLY,
    "test_document_ids_compare_in_field_order": _OBJECTID_ONLY,
    "test_upsert_creates_a_typed_id": _OBJECTID_ONLY,
    # aggregation
    "test_aggregate_on_an_empty_collection": (
        "CongoDB's $count stage on no input returns {n: 0}; MongoDB returns no document"
    ),
    "test_aggregate[$facet]": _ID_MAPPING,
    "test_lookup_joins_a_collection_of_the_same_store": _ID_MAPPING,
    # filters (run by find and by count_documents)
    **_cases(
        ("test_filter", "test_count_documents_agrees_with_find"),
        {
            "$all-scalar-field": "CongoDB's $all does not match a scalar field equal to its value",
            "$expr-compare-fields": "CongoDB's $expr $gt compares a missing field as a number",
            "$gte-null-matches-null-and-missing": "CongoDB's $gte null does not match null",
            "$type-double": _TYPE_ALIASES,
            "$type-list": _TYPE_ALIASES,
            "$type-string-elements": _TYPE_ALIASES,
        },
    ),
    # reads
    "test_projection[include-true]": "CongoDB ignores a projection of `true` values",
    "test_projection[only-id]": "CongoDB ignores a projection of `{_id: 1}` alone",
    "test_sort[array-asc]": _SORT,
    "test_sort[missing-and-null-last-desc]": _SORT,
    "test_sort[two-keys]": _SORT,
    "test_sort_across_types_follows_mongodb_order": _SORT,
    "test_values_round_trip_exactly[big-int]": "CongoDB returns a 2**53 int64 as a double",
    # writes
    **_cases(
        ("test_update_one", "test_update_many_applies_to_every_match"),
        {"$pull-$in": _PULL, "$pull-condition": _PULL, "$pull-document-operator-condition": _PULL},
    ),
    "test_bad_updates_are_refused_and_change_nothing": _POSITIONAL,
    "test_set_cannot_change_the_id": "CongoDB lets an update change _id (MongoDB: code 66)",
    "test_replace_one_cannot_change_the_id": "CongoDB lets a replacement change _id (code 66)",
    "test_an_index_name_or_keys_taken_with_other_options_is_refused": (
        "CongoDB accepts an index whose name or keys an index with other options has; MongoDB "
        "refuses it (IndexOptionsConflict, code 85)"
    ),
    # unique indexes
    "test_compound_unique_index": _UNIQUE,
    "test_insert_many_with_a_unique_violation_keeps_the_earlier_documents": _UNIQUE,
    "test_sparse_unique_index_allows_many_missing": _UNIQUE,
    "test_unique_index_on_array_elements": _UNIQUE,
    "test_unique_index_refuses_a_duplicate_insert": _UNIQUE,
    "test_unique_index_refuses_a_duplicate_replace_and_upsert": _UNIQUE,
    "test_unique_index_refuses_a_duplicate_update": _UNIQUE,
    "test_unique_index_treats_missing_as_null": _UNIQUE,
    "test_a_unique_value_moves_with_update_and_is_freed_by_delete": _UNIQUE,
    "test_a_duplicate_names_the_index_and_the_value": _UNIQUE,
    "test_unique_equality_is_mongodb_equality": _UNIQUE,
    "test_twenty_concurrent_inserts_of_one_value_exactly_one_wins": _UNIQUE,
    "test_twenty_concurrent_updates_to_one_value_exactly_one_wins": _UNIQUE,
    "test_building_a_unique_index_over_duplicates_names_them_and_builds_nothing": _UNIQUE,
    "test_a_unique_index_on_the_field_is_still_enforced": _UNIQUE,
    # partial indexes
    **dict.fromkeys(
        (
            "test_a_unique_partial_index_constrains_only_matching_documents",
            "test_moving_into_the_filter_takes_the_value_and_moving_out_frees_it",
            "test_building_a_unique_partial_index_checks_only_matching_documents",
            "test_building_over_duplicates_inside_the_filter_names_them_and_builds_nothing",
            "test_a_compound_unique_partial_index_with_exists",
            "test_allowed_operators_are_accepted_and_listed",
            "test_a_unique_partial_index_is_listed_with_its_filter",
            "test_another_store_on_the_same_data_keeps_the_partial_rule",
            "test_a_migration_creates_and_recreates_a_partial_index",
            "test_concurrent_inserts_exactly_one_matching_document_wins",
        ),
        "CongoDB ignores partialFilterExpression: list_indexes omits it and a unique index "
        "constrains every document (a compound one none); MongoDB 3.2+ indexes only the "
        "documents the filter matches",
    ),
}

# Tests CongoDB cannot take part in.
CONGODB_NOT_APPLICABLE: dict[str, str] = {
    "tests/conformance/test_aggregate.py::test_sample_returns_distinct_documents": (
        "CongoDB's $sample may return a document twice, at random, so the case can neither "
        "pass nor fail reliably there"
    ),
    "tests/conformance/test_migrations_processes.py": (
        "its migrator processes write string ids that only this process maps to ObjectIds"
    ),
}


def target() -> tuple[str, str] | None:
    """``(kind, uri)`` of the server to test against: ``"mongodb"`` or ``"congodb"``."""
    real = os.environ.get(REAL_URI_ENV)
    if real:
        return "mongodb", real
    congo = os.environ.get(CONGODB_URI_ENV)
    if congo:
        return "congodb", congo
    return None


def against_congodb() -> bool:
    found = target()
    return found is not None and found[0] == "congodb"


def prepare(monkeypatch: pytest.MonkeyPatch) -> None:
    """Against CongoDB, send the suite's string ids as ObjectIds (see ``objectid_ids``)."""
    if against_congodb():
        objectid_ids.install(monkeypatch)


def known_gaps() -> dict[str, str]:
    """The expected failures of the server under test (none for a real MongoDB)."""
    return dict(CONGODB_GAPS) if against_congodb() else {}


def not_applicable() -> dict[str, str]:
    return dict(CONGODB_NOT_APPLICABLE) if against_congodb() else {}


def unavailable() -> str | None:
    """Why no MongoDB server can be used, or None when one answers on its port."""
    found = target()
    if found is None:
        return (
            f"neither {REAL_URI_ENV} nor {CONGODB_URI_ENV} is set "
            "(run `scripts/services.sh up congodb`)"
        )
    kind, uri = found
    host, port = _first_host(uri)
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return None
    except OSError as exc:
        return f"the {kind} server at {host}:{port} does not answer ({exc})"


def settings(name: str, client: str) -> dict[str, Any]:
    found = target()
    uri = found[1] if found else "mongodb://127.0.0.1:27117"
    return {
        "name": name,
        "driver": "mongodb",
        "mongodb": {
            "uri": uri,
            "database": f"lexigram_{name}",
            "client": client,
            "server_selection_timeout_ms": 3000,
        },
    }


async def reset(store: Any) -> None:
    """Drop the test's database (each test has its own)."""
    await store.client.drop_database(store.settings.mongodb.database)


def _first_host(uri: str) -> tuple[str, int]:
    hosts = urlsplit(uri).netloc.rpartition("@")[2].split(",")[0]
    host, _, port = hosts.rpartition(":") if hosts.count(":") == 1 else (hosts, "", "")
    return host or "127.0.0.1", int(port or 27017)
