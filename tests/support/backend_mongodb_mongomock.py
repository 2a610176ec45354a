"""The MongoDB backend on mongomock-motor: our MongoDB code (Motor path) over an in-process
imitation of MongoDB, which, unlike CongoDB, accepts any ``_id`` and enforces unique indexes.

It runs the shared suite through ``MongoDocumentStore`` and its ``MongoCollection`` with a
mongomock client plugged in; what mongomock gets wrong is listed in ``KNOWN_GAPS``, and the
tests it cannot take part in, in ``NOT_APPLICABLE``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from lexigram_nosql.backends.bulk import run_steps
from lexigram_nosql.backends.mongodb import MongoDocumentStore, ServerInfo
from lexigram_nosql.backends.mongodb.collection import MongoCollection
from lexigram_nosql.config.stores import parse_store_settings
from lexigram_nosql.contracts import BulkWriteFailure, BulkWriteResult
from tests.support.mongodb_server import OTHER_ORDER_CASES

ID = "mongodb-mongomock"

_FROM_CONFIG = (
    "builds its stores from configuration (or in other processes), which cannot reach the "
    "in-process mongomock client"
)
_NO_MOD = "mongomock does not implement the $mod query operator"
_NO_MUL = "mongomock does not implement the $mul update operator"
_RENAME_DOTTED = "mongomock does not implement $rename with dotted paths"
_TYPE = "mongomock does not implement $type for this type name"
_ARRAYS = (
    "mongomock compares arrays unlike MongoDB (an array field matches a scalar comparison or "
    "sorts by its smallest/largest element in MongoDB)"
)
_BRACKETS = "mongomock compares across BSON type brackets (true == 1, null in $gte)"
_POSITIONAL = (
    "mongomock applies $ and $[] wrongly (crashes on scalars, $unset of an element, no refusals)"
)
_ARRAY_FILTERS = "mongomock does not implement array filters ($[<identifier>])"
_TOP_DOLLAR = (
    "mongomock refuses top-level $-prefixed field names on insert (pre-5.0 rules); MongoDB "
    "5.0+ stores them"
)
_FIELD_OPERATORS = (
    "mongomock implements neither $setField nor the $replaceWith stage (MongoDB 5.0 and 4.2)"
)
_ID_CODE = (
    "mongomock refuses a changed _id without MongoDB's error code 66 (ImmutableField), which "
    "is what maps the refusal to InvalidQueryError"
)

_NO_COMMENT = (
    "mongomock refuses comment= (\"Unrecognized field 'comment'\", or an unexpected keyword "
    "argument); MongoDB 4.4+ takes a comment on every command"
)
_NO_HINT = (
    'mongomock refuses hint= on find, distinct, updates and deletes ("Unrecognized field '
    "'hint'\", or NotImplementedError); MongoDB takes it"
)
_NO_COLLATION = (
    "mongomock does not implement collation= on counts, distinct, updates and deletes "
    "(NotImplementedError, or an unexpected keyword argument), and ignores it on find"
)
_NO_MAX_TIME = "mongomock's distinct takes no maxTimeMS; MongoDB's takes one"

_FILTERED_COMMANDS = (
    "find",
    "find_one",
    "count_documents",
    "distinct",
    "update_one",
    "update_many",
    "replace_one",
    "delete_one",
    "delete_many",
)
"""The calls with a filter that the option cases pass options to (in the suite's order)."""
_COMMENTLESS = (
    *_FILTERED_COMMANDS,
    "insert_one",
    "insert_many",
    "estimated_document_count",
    "bulk_write",
)
_COMMENTS = ("nightly-reindex", "comment1")


def _option_cases(
    test: str, calls: Iterable[str], values: Iterable[str], why: str
) -> dict[str, str]:
    """The cases ``{call}-{value}`` of ``test`` that mongomock gets wrong for ``why``."""
    values = tuple(values)
    return _cases((test,), {f"{call}-{value}": why for call in calls for value in values})


# Filter cases run twice: by find and by count_documents.
_FILTER_TESTS = ("test_filter", "test_count_documents_agrees_with_find")
_UPDATE_TESTS = ("test_update_one", "test_update_many_applies_to_every_match")


def _cases(tests: tuple[str, ...], cases: dict[str, str]) -> dict[str, str]:
    return {f"{test}[{case}]": why for test in tests for case, why in cases.items()}


_UUID_ID = (
    "mongomock encodes a uuid.UUID _id for its own index with UuidRepresentation.UNSPECIFIED "
    "and refuses it, whatever the client's uuidRepresentation"
)

KNOWN_GAPS: dict[str, str] = {
    "test_one_updates_new_fields_are_created_in_mongodbs_processing_order": (
        "mongomock applies an update's fields in the order given; MongoDB 5.0+ applies them in "
        "the order of their names (numeric names numerically), which orders the new fields"
    ),
    "test_id_is_stored_first_wherever_it_is_given": (
        "mongomock leaves an upserted document's _id where the filter had it; a MongoDB "
        "server stores _id first"
    ),
    "test_find_one_and_modify_take_pymongos_positional_order": (
        "mongomock's find_one_and_update ignores sort (it modifies the first document in "
        "natural order)"
    ),
    "test_an_update_that_changes_only_the_number_type_modifies": (
        "mongomock compares values, not stored types: $set of 2.0 over 2 does not count as a "
        "modification (MongoDB's nModified counts it)"
    ),
    # ids
    "test_every_id_type_round_trips_with_its_type[uuid]": _UUID_ID,
    **{
        f"test_every_write_creates_the_id_types_of_the_crud_specification[{case}]": why
        for case, why in {
            "nan": "mongomock finds a NaN _id unequal to itself (replace_one upsert fails)",
            "null": "mongomock's upsert on {_id: None} makes an ObjectId; MongoDB keeps null",
            "decimal128": "mongomock cannot hash a Decimal128 _id",
            "code": "mongomock cannot hash a JavaScript code _id",
            "code-with-scope": "mongomock cannot hash a JavaScript code _id",
            "timestamp": (
                "mongomock replaces an empty Timestamp _id with the current time; MongoDB "
                "stores an _id as given"
            ),
        }.items()
    },
    "test_in_on_ids_of_mixed_types": _UUID_ID,
    "test_an_integral_float_id_reads_back_as_a_float_found_by_the_int": (
        "mongomock's replace_one writes the filter's _id (3) over the stored one (3.0); MongoDB "
        "keeps the stored _id"
    ),
    "test_what_mongodb_stores_is_stored_or_refused_by_name[uuid]": _UUID_ID,
    "test_documents_over_the_backends_size_limit_are_refused_before_writing": (
        "mongomock stores documents over MongoDB's 16 MiB limit"
    ),
    "test_a_dotted_set_through_a_scalar_is_refused_and_changes_nothing": (
        "mongomock's $set of a.b over a scalar a replaces it with a document; MongoDB refuses "
        "it (PathNotViable)"
    ),
    "test_rename_moves_the_field_to_the_end": (
        "mongomock does not implement $rename of a dotted path (NotImplementedError)"
    ),
    "test_projections_and_aggregations_keep_the_stored_order": (
        "mongomock returns an inclusion projection's fields in the projection's order, _id "
        "last; MongoDB keeps the document's order, _id first"
    ),
    **_cases(
        ("test_embedded_document_equality_depends_on_the_order",),
        dict.fromkeys(
            OTHER_ORDER_CASES,
            "mongomock matches an embedded document whatever its field order; MongoDB "
            "compares documents field by field, in order",
        ),
    ),
    "test_document_ids_compare_in_field_order": (
        "mongomock matches an embedded-document _id whatever its field order; MongoDB compares "
        "documents field by field, in order"
    ),
    # aggregation stages and operators mongomock lacks or gets wrong
    "test_aggregate[$group-null-id]": "mongomock does not implement the $count accumulator",
    "test_aggregate[$unset-stage]": "mongomock does not implement the $unset stage",
    "test_aggregate[$replaceWith]": "mongomock does not implement the $replaceWith stage",
    "test_aggregate[$sortByCount]": "mongomock does not implement the $sortByCount stage",
    "test_aggregate[comparison-and-boolean]": (
        "mongomock evaluates $and/$or expressions on non-booleans wrongly"
    ),
    "test_aggregate_on_an_empty_collection": (
        "mongomock's $count stage on no input returns {n: 0}; MongoDB returns no document"
    ),
    # filters
    **_cases(
        _FILTER_TESTS,
        {
            "eq-bool-is-not-number": _BRACKETS,
            "$gte-null-matches-null-and-missing": _BRACKETS,
            "$type-null": _TYPE,
            "$type-list": _TYPE,
            "$type-code": _TYPE,
            "$not-$size": _ARRAYS,
            "$all-empty-matches-nothing": "mongomock's $all with an empty list matches everything",
            "$size-1": _ARRAYS,
            "$mod": _NO_MOD,
            "$mod-zero-remainder": _NO_MOD,
            "$expr-compare-fields": "mongomock's $expr fails on a document missing the field",
        },
    ),
    "test_two_streams_interleaved": _NO_MOD,
    "test_sort[array-asc]": _ARRAYS,
    **dict.fromkeys(
        (
            "test_a_unique_partial_index_constrains_only_matching_documents",
            "test_moving_into_the_filter_takes_the_value_and_moving_out_frees_it",
            "test_building_a_unique_partial_index_checks_only_matching_documents",
        ),
        "mongomock's create_index looks for duplicates among every stored document, ignoring "
        "partialFilterExpression (its writes honour it); MongoDB checks only the matching ones",
    ),
    "test_building_over_duplicates_inside_the_filter_names_them_and_builds_nothing": (
        "mongomock's duplicate-key error from create_index names neither the index nor the "
        "value ('E11000 Duplicate Key Error')"
    ),
    "test_a_duplicate_id_names_the_id_index_and_the_value": (
        "mongomock's duplicate _id error is a bare 'E11000 Duplicate Key Error', without "
        "MongoDB's keyPattern, keyValue or index name"
    ),
    "test_the_id_index_cannot_be_dropped_nor_given_options": (
        "mongomock lists a second _id_ index after create_index on _id; MongoDB keeps one"
    ),
    "test_an_index_name_or_keys_taken_with_other_options_is_refused": (
        "mongomock refuses an index whose name an index with other options has without "
        "MongoDB's error code 85 (IndexOptionsConflict), which maps it to InvalidQueryError"
    ),
    "test_drop_index_by_name_or_by_keys": (
        "mongomock refuses dropping a missing index without MongoDB's error code 27 "
        "(IndexNotFound), which is what maps the refusal to InvalidQueryError"
    ),
    "test_a_duplicate_names_the_index_and_the_value": (
        "mongomock's duplicate-key error gives the key pattern but not the index name"
    ),
    "test_inc_follows_the_type_the_field_has_now": (
        "mongomock's $inc on a string raises Python's TypeError, not MongoDB's TypeMismatch"
    ),
    "test_unique_equality_is_mongodb_equality": (
        "mongomock's unique index calls true and 1 equal (MongoDB keeps them apart)"
    ),
    "test_unique_index_on_array_elements": (
        "mongomock does not index array elements one by one for unique indexes"
    ),
    # updates
    **_cases(
        _UPDATE_TESTS,
        {
            "$mul": _NO_MUL,
            "$mul-float": _NO_MUL,
            "$mul-missing-is-zero": _NO_MUL,
            "$rename-into-nested": _RENAME_DOTTED,
            "$rename-out-of-nested": _RENAME_DOTTED,
            "$addToSet-$each": "mongomock's $addToSet with $each adds an element already present",
        },
    ),
    "test_bad_updates_are_refused_and_change_nothing": (
        "mongomock accepts the positional `$` in an update whose query has no array "
        "condition; MongoDB refuses it (the positional operator did not find the match needed)"
    ),
    "test_replace_one_cannot_change_the_id": _ID_CODE,
    "test_set_cannot_change_the_id": _ID_CODE,
    "test_an_update_that_does_not_fit_the_document_is_one_error_everywhere": (
        "mongomock fails such updates with Python errors (TypeError, AttributeError) or "
        "applies them, without MongoDB's error codes"
    ),
    **dict.fromkeys(
        (
            "test_update_one[$bit-and]",
            "test_update_one[$bit-or]",
            "test_update_one[$bit-xor]",
            "test_update_one[$bit-in-order]",
            "test_update_one[$bit-missing-field]",
            "test_update_many_applies_to_every_match[$bit-and]",
            "test_update_many_applies_to_every_match[$bit-or]",
            "test_update_many_applies_to_every_match[$bit-xor]",
            "test_update_many_applies_to_every_match[$bit-in-order]",
            "test_update_many_applies_to_every_match[$bit-missing-field]",
            "test_bit_needs_an_integer_in_the_document",
        ),
        "mongomock does not implement the $bit update operator",
    ),
    **dict.fromkeys(
        (
            "test_an_upsert_cannot_change_the_id_its_filter_gives[set]",
            "test_an_upsert_cannot_change_the_id_its_filter_gives[set-on-insert]",
        ),
        "mongomock lets an upsert's update replace the _id its filter gave; MongoDB refuses it "
        "as a change of the immutable _id (error 66)",
    ),
    # field names MongoDB 5.0+ stores
    "test_inserted_dollar_and_dotted_names_read_back[top-level-dollar]": _TOP_DOLLAR,
    "test_inserted_dollar_and_dotted_names_read_back[operator-names]": _TOP_DOLLAR,
    "test_insert_many_stores_dollar_and_dotted_names": _TOP_DOLLAR,
    "test_an_update_reaches_a_nested_dollar_name": _TOP_DOLLAR,
    "test_an_update_of_an_existing_document_cannot_set_a_top_level_dollar_name": _TOP_DOLLAR,
    "test_an_update_may_unset_a_top_level_dollar_name": _TOP_DOLLAR,
    "test_an_upsert_that_inserts_may_create_a_top_level_dollar_name": _TOP_DOLLAR,
    "test_get_set_and_unset_field_in_an_aggregation": _TOP_DOLLAR,
    "test_a_pipeline_update_sets_dollar_and_dotted_names_with_set_field": _FIELD_OPERATORS,
    "test_every_update_method_takes_set_field": _FIELD_OPERATORS,
    # positional paths and array filters
    "test_first_match_positional_on_values": _POSITIONAL,
    "test_first_match_positional_in_find_one_and_update_and_unset": _POSITIONAL,
    "test_first_match_positional_needs_the_array_in_the_filter": _POSITIONAL,
    "test_all_positional": _POSITIONAL,
    "test_all_positional_on_embedded_documents": _POSITIONAL,
    "test_all_positional_on_a_non_array_is_refused": _POSITIONAL,
    "test_filtered_positional_with_array_filters": _ARRAY_FILTERS,
    "test_filtered_positional_on_embedded_fields": _ARRAY_FILTERS,
    "test_nested_all_and_filtered_positional": _ARRAY_FILTERS,
    "test_bulk_write_with_array_filters": _ARRAY_FILTERS,
    "test_bulk_update_models_take_array_filters_by_position": _ARRAY_FILTERS,
    "test_find_one_and_update_with_array_filters": _ARRAY_FILTERS,
    "test_array_filters_with_or": _ARRAY_FILTERS,
    "test_an_upsert_with_all_positional_needs_the_array_in_the_filter": _POSITIONAL,
    # pipeline-style updates and bulk errors
    "test_update_one_with_a_pipeline": (
        "mongomock's $replaceRoot update drops _id; MongoDB keeps the stored _id"
    ),
    "test_find_one_and_update_with_a_pipeline": "mongomock does not implement the $unset stage",
    "test_bulk_update_models_with_a_pipeline": (
        "mongomock does not implement the $replaceWith stage"
    ),
    "test_unordered_bulk_write_continues_past_errors": (
        "mongomock crashes (AttributeError) on $push to a non-array instead of refusing it"
    ),
    # PyMongo's per-command options, which MongoDB takes on every command
    **_option_cases("test_a_comment_changes_no_result", _COMMENTLESS, _COMMENTS, _NO_COMMENT),
    **_option_cases(
        "test_the_simple_collation_changes_no_result",
        _FILTERED_COMMANDS[2:],
        ("collation0",),
        _NO_COLLATION,
    ),
    "test_a_case_insensitive_collation_is_mongodbs_or_refused_by_name": _NO_COLLATION,
    "test_a_case_insensitive_collation_modifier_is_mongodbs_or_refused": _NO_COLLATION,
    "test_a_bulk_models_other_collation_is_mongodbs_or_refused_before_any_write": _NO_COLLATION,
    "test_bulk_models_take_the_simple_collation": _NO_COLLATION,
    "test_a_bulk_models_positional_collation_is_a_collation": _NO_COLLATION,
    "test_option_modifiers_as_pymongo_chains_them": _NO_COMMENT,
    "test_a_time_bound_the_call_meets_changes_no_result[distinct-max_time_ms]": _NO_MAX_TIME,
    "test_a_time_bound_the_call_meets_changes_no_result[distinct-maxTimeMS]": _NO_MAX_TIME,
    **_option_cases(
        "test_a_hint_changes_no_result",
        ("find", "find_one", "distinct", *_FILTERED_COMMANDS[4:]),
        ("_id_", "hint1", "hint2"),
        _NO_HINT,
    ),
    "test_bulk_models_take_a_hint_that_changes_no_result": _NO_HINT,
    "test_bulk_models_take_hint_by_position": _NO_HINT,
    "test_min_and_max_bound_the_hinted_index_on_mongodb": _NO_HINT,
    "test_return_key_gives_the_index_keys_on_mongodb": _NO_HINT,
    "test_explain_describes_the_query_without_reading_the_cursor": (
        "mongomock's cursor has no explain(); PyMongo's runs MongoDB's explain command"
    ),
    "test_a_cursor_with_options_closed_early_reads_nothing_more": _NO_HINT,
    "test_a_collection_group_takes_the_options_but_hints_only_the_id_index": _NO_COMMENT,
    "test_let_binds_the_variables_of_expr_and_pipeline_updates": (
        "mongomock does not implement let= (an unexpected keyword argument, or undefined "
        "variables in $expr)"
    ),
    **dict.fromkeys(
        (
            "test_a_hint_naming_no_index_is_refused_as_mongodb_refuses_it",
            "test_a_bulk_models_hint_naming_no_index_fails_that_request",
            "test_any_hint_goes_on_a_collection_that_does_not_exist",
            "test_a_hint_naming_an_index_of_the_collection_is_taken",
            "test_a_hinted_sparse_index_reads_what_mongodb_reads_or_is_refused",
        ),
        _NO_HINT + "; where it takes one, it does not check it against the indexes",
    ),
}

# Tests whose stores are built from configuration or in other processes, which cannot reach
# an in-process client (the URI names a reserved .invalid host; nothing touches the network).
NOT_APPLICABLE: dict[str, str] = {
    "tests/test_guide_di.py": _FROM_CONFIG,
    "tests/test_guide_repository.py::test_the_guide_migration": _FROM_CONFIG,
    "tests/unit/test_migrations_cli.py": _FROM_CONFIG,
    "tests/conformance/test_migrations_processes.py": _FROM_CONFIG,
    "tests/conformance/test_index_records.py": _FROM_CONFIG,
    "tests/conformance/test_partial_indexes.py::"
    "test_another_store_on_the_same_data_keeps_the_partial_rule": _FROM_CONFIG,
}


class MongomockCollection(MongoCollection):
    """mongomock's bulk builder predates PyMongo 4.11, whose request objects all pass it a
    ``sort`` argument: bulks take the engine's way (each request through the client)."""

    async def _write_bulk(
        self, operations: Sequence[Any], steps: list[Any], *, ordered: bool
    ) -> tuple[BulkWriteResult, list[BulkWriteFailure]]:
        return await run_steps(self, operations, steps, ordered=ordered)


class MongomockStore(MongoDocumentStore):
    """mongomock answers neither ``hello`` nor ``buildInfo`` the way a server does."""

    async def _describe_server(self) -> ServerInfo:
        return ServerInfo(version="mongomock", wire_version=0, topology="standalone")

    def _make_collection(self, name: str) -> MongoCollection:
        return MongomockCollection(self, name)


def _client(uri: str, options: dict[str, Any]) -> Any:
    from mongomock_motor import AsyncMongoMockClient

    return AsyncMongoMockClient(
        tz_aware=options["tz_aware"], uuidRepresentation=options["uuidRepresentation"]
    )


def unavailable() -> str | None:
    return None


def settings(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "driver": "mongodb",
        "mongodb": {
            "uri": "mongodb://mongomock.invalid",
            "database": f"lexigram_{name}",
            "client": "motor",
        },
    }


def create_store(entry: dict[str, Any]) -> MongoDocumentStore:
    settings = parse_store_settings(entry)
    return MongomockStore(settings, client_factory=_client)  # type: ignore[arg-type]


async def reset(store: Any) -> None:
    await store.client.drop_database(store.settings.mongodb.database)
