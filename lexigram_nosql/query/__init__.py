"""The query language: MongoDB's filter, update and aggregation documents, validated once and
evaluated exactly by one Python engine that every backend can fall back on."""

from lexigram_nosql.query.aggregate import run_pipeline
from lexigram_nosql.query.aggregate_parse import parse_pipeline
from lexigram_nosql.query.ast import FilterNode, ParsedPipeline, Update
from lexigram_nosql.query.expressions import evaluate, parse_expression
from lexigram_nosql.query.filter import matches, parse_filter
from lexigram_nosql.query.lookup import LookupSource
from lexigram_nosql.query.ordering import compare_values, document_sort_key, sort_key
from lexigram_nosql.query.paths import MISSING, get_path, get_values, set_path, unset_path
from lexigram_nosql.query.projection import Projection, apply_projection, parse_projection
from lexigram_nosql.query.requests import FilterQuery, FindQuery, parse_sort
from lexigram_nosql.query.update import apply_update, parse_replacement, parse_update, upsert_seed

__all__ = [
    "MISSING",
    "FilterNode",
    "FilterQuery",
    "FindQuery",
    "LookupSource",
    "ParsedPipeline",
    "Projection",
    "Update",
    "apply_projection",
    "apply_update",
    "compare_values",
    "document_sort_key",
    "evaluate",
    "get_path",
    "get_values",
    "matches",
    "parse_expression",
    "parse_filter",
    "parse_pipeline",
    "parse_projection",
    "parse_replacement",
    "parse_sort",
    "parse_update",
    "run_pipeline",
    "set_path",
    "sort_key",
    "unset_path",
    "upsert_seed",
]
