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

REAL_URI_ENV = "LEXIGRAM_NOSQL_TEST_MONGODB_URI"
CONGODB_URI_ENV = "LEXIGRAM_NOSQL_TEST_CONGODB_URI"

STRING_IDS = (
    "CongoDB stores only ObjectId _ids: it refuses the string ids this case seeds ('input must "
    "be a 24 character hex string', sent as duplicate-key error 11000); MongoDB accepts any _id"
)

# Conformance cases that seed or write string _ids ("s1", "__lock__"...): every case of
# these test functions fails on CongoDB for that reason alone.
_STRING_ID_CASES = (
    "test_a_changed_migration_is_refused_unless_forced[",
    "test_a_failed_migration_stops_the_run_and_a_rerun_resumes[",
    "test_a_held_lock_makes_others_wait_then_give_up[",
    "test_a_migrator_that_lost_its_lease_stops[",
    "test_a_recorded_migration_missing_from_the_manager[",
    "test_aggregate[",
    "test_aggregate_output_is_a_copy[",
    "test_aggregate_runs_over_the_collection[",
    "test_an_expired_lock_is_taken_over[",
    "test_an_interrupted_migration_runs_again[",
    "test_arrays_inside_arrays_round_trip[",
    "test_bad_documents_are_refused_before_anything_is_written[",
    "test_bad_filters_are_refused_before_anything_is_written[",
    "test_bad_index_requests[",
    "test_bad_pipelines_are_refused_before_running[",
    "test_bad_updates_are_refused_before_anything_is_written[",
    "test_breaking_out_of_a_stream_early[",
    "test_bulk_write_ordered_stops_at_the_first_error[",
    "test_bulk_write_runs_every_kind_of_operation[",
    "test_bulk_write_unordered_attempts_everything[",
    "test_class_migrations_with_up_and_down[",
    "test_commit_makes_every_write_visible[",
    "test_compound_unique_index[",
    "test_concurrent_atomic_increments_are_exact[",
    "test_concurrent_migrators_apply_each_migration_once[",
    "test_concurrent_transactions_do_not_lose_writes[",
    "test_count_documents[",
    "test_count_documents_agrees_with_find[",
    "test_create_index_twice_is_idempotent[",
    "test_create_index_with_a_string_key[",
    "test_create_list_and_drop_an_index[",
    "test_creating_a_unique_index_over_duplicates_fails[",
    "test_current_date_sets_a_recent_utc_date[",
    "test_data_operations_work_in_batches_and_report_progress[",
    "test_datetimes_compare_in_filters_after_the_round_trip[",
    "test_delete_one_and_many[",
    "test_distinct[",
    "test_dropping_a_unique_index_lifts_the_constraint[",
    "test_dry_run_changes_nothing[",
    "test_duplicate_id_is_refused_and_nothing_changes[",
    "test_duplicate_inside_a_transaction_rolls_back_earlier_writes[",
    "test_error_names_the_path_and_operator[",
    "test_exception_rolls_everything_back[",
    "test_explicit_ids_are_kept[",
    "test_field_names_with_spaces_and_unicode[",
    "test_filter[",
    "test_find_by_filter_spec_and_stream[",
    "test_find_one_and_delete_takes_the_first_in_sort_order[",
    "test_find_one_and_replace[",
    "test_find_one_and_update_after_with_sort_and_projection[",
    "test_find_one_and_update_no_match[",
    "test_find_one_and_update_returns_before_by_default[",
    "test_find_one_and_update_upsert[",
    "test_find_one_with_sort[",
    "test_find_refuses_bad_arguments_before_iterating[",
    "test_find_streams_a_large_collection_in_batches[",
    "test_get_many_handles_more_ids_than_one_request[",
    "test_get_many_keeps_the_order_asked_and_skips_missing[",
    "test_ids_apply_in_numeric_order_not_string_order[",
    "test_index_and_collection_operations[",
    "test_insert_many_stops_at_a_duplicate_like_mongodb_ordered_inserts[",
    "test_insert_many_with_a_unique_violation_keeps_the_earlier_documents[",
    "test_limit_without_sort_returns_that_many[",
    "test_list_and_drop_collections[",
    "test_lookup_joins_a_collection_of_the_same_store[",
    "test_migrator_processes_apply_each_migration_once[",
    "test_mixed_projection_is_refused[",
    "test_modified_count_is_zero_when_nothing_changes[",
    "test_projection[",
    "test_queries_are_exact_with_an_index[",
    "test_reads_inside_see_own_writes[",
    "test_rename_and_remove_field_change_data_and_roll_back[",
    "test_replace_one_cannot_change_the_id[",
    "test_replace_one_replaces_everything_but_the_id[",
    "test_replace_one_upsert[",
    "test_replace_one_with_the_same_id_is_allowed[",
    "test_replace_refuses_operators[",
    "test_returned_documents_are_copies[",
    "test_rollback_without_to_undoes_the_latest_only[",
    "test_sample_returns_distinct_documents[",
    "test_save_many_returns_saved_entities[",
    "test_save_with_an_id_inserts_then_replaces[",
    "test_set_cannot_change_the_id[",
    "test_set_on_insert_applies_only_when_inserting[",
    "test_skip_and_limit_with_sort[",
    "test_sort[",
    "test_sort_across_types_follows_mongodb_order[",
    "test_sparse_unique_index_allows_many_missing[",
    "test_state_outlives_one_command[",
    "test_status_records_name_checksum_time_and_duration[",
    "test_the_guide_migration[",
    "test_the_guide_migrations_really_change_the_store[",
    "test_the_lease_is_renewed_while_a_long_migration_runs[",
    "test_two_streams_interleaved[",
    "test_uncommitted_writes_are_invisible_outside[",
    "test_unique_index_on_array_elements[",
    "test_unique_index_refuses_a_duplicate_insert[",
    "test_unique_index_refuses_a_duplicate_replace_and_upsert[",
    "test_unique_index_refuses_a_duplicate_update[",
    "test_unique_index_treats_missing_as_null[",
    "test_update_many_applies_to_every_match[",
    "test_update_many_refuses_a_replacement_document[",
    "test_update_matching_nothing_reports_zero[",
    "test_update_one[",
    "test_update_one_changes_only_the_first_match[",
    "test_upsert_with_id_in_filter_uses_it[",
    "test_values_round_trip_exactly[",
)

# Conformance test-name fragment -> what CongoDB (not our backend) gets wrong.
CONGODB_GAPS: dict[str, str] = {
    **dict.fromkeys(_STRING_ID_CASES, STRING_IDS),
    "test_aggregate_on_an_empty_collection[": (
        "CongoDB's $count stage on no input returns {n: 0}; MongoDB returns no document"
    ),
    **dict.fromkeys(
        (
            "test_a_unique_value_moves_with_update_and_is_freed_by_delete[",
            "test_a_duplicate_names_the_index_and_the_value[",
            "test_unique_equality_is_mongodb_equality[",
            "test_twenty_concurrent_inserts_of_one_value_exactly_one_wins[",
            "test_twenty_concurrent_updates_to_one_value_exactly_one_wins[",
            "test_building_a_unique_index_over_duplicates_names_them_and_builds_nothing[",
        ),
        "CongoDB does not enforce unique indexes: it accepts an insert duplicating a value "
        "of a unique index created on ObjectId-keyed documents",
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


def known_gaps() -> dict[str, str]:
    """The expected failures of the server under test (none for a real MongoDB)."""
    return dict(CONGODB_GAPS) if against_congodb() else {}


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
