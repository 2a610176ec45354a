"""The SQLite planner's per-path equality plans give exactly the general planner's plan."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lexigram_nosql.backends.index_spec import IndexSpec
from lexigram_nosql.backends.sqlite.planner import _plan, plan_read
from lexigram_nosql.backends.sqlite.schema import CollectionInfo, IndexInfoRow
from lexigram_nosql.query.ast import Condition, FieldOp
from lexigram_nosql.query.filter import parse_filter

_PATHS = ["_id", "a", "b", "a.b", "a.0", "c"]
_VALUES = (
    st.integers()
    | st.floats(allow_nan=True)
    | st.booleans()
    | st.text(max_size=4)
    | st.none()
    | st.sampled_from([[1], {"x": 1}])
)


@st.composite
def _indexes(draw: Any) -> list[IndexSpec]:
    specs = []
    for number in range(draw(st.integers(0, 4))):
        paths = draw(st.lists(st.sampled_from(_PATHS[1:]), min_size=1, max_size=2, unique=True))
        keys = [(path, draw(st.sampled_from([1, -1]))) for path in paths]
        partial = draw(st.sampled_from([None, {"a": {"$exists": True}}]))
        specs.append(
            IndexSpec.build(
                keys,
                unique=draw(st.booleans()),
                sparse=partial is None and draw(st.booleans()),
                name=f"i{number}",
                expire_after_seconds=None,
                partial_filter_expression=partial,
            )
        )
    return specs


def _shape(plan: Any) -> tuple[Any, ...]:
    return (plan.kind, plan.sql, plan.params, plan.indexes, plan.sorted, plan.dedupe, plan.exact)


@settings(deadline=None, max_examples=300)
@given(_indexes(), st.sampled_from(_PATHS), st.lists(_VALUES, min_size=1, max_size=4))
def test_equality_plans_are_the_general_plans(
    specs: list[IndexSpec], path: str, values: list[Any]
) -> None:
    info = CollectionInfo("c", "c1")
    for number, spec in enumerate(specs):
        info.indexes[spec.name] = IndexInfoRow(spec.name, f"x{number}", spec)

    def multikey(index: IndexInfoRow) -> bool:
        return False

    for value in values:  # the first value of a path makes its recipe, the others reuse it
        node = parse_filter({path: value})
        assert _shape(plan_read(info, node, (), multikey)) == _shape(
            _plan(info, node, (), multikey)
        )


def test_a_plain_value_reuses_the_paths_plan_with_its_own_key() -> None:
    info = CollectionInfo("c", "c1")
    spec = IndexSpec.build(
        [("email", 1)], unique=True, sparse=False, name="email_1", expire_after_seconds=None
    )
    info.indexes["email_1"] = IndexInfoRow("email_1", "x1", spec)
    first = plan_read(info, Condition("email", FieldOp.EQ, "a@x"), (), lambda index: False)
    second = plan_read(info, Condition("email", FieldOp.EQ, "b@x"), (), lambda index: False)
    assert "email" in info.equality_plans
    assert first.sql == second.sql and first.params != second.params
    assert second.exact and second.indexes == ("email_1",)
    # 1, 1.0 and True are different values with different keys, never one cached plan's key.
    keys = {
        repr(plan_read(info, Condition("email", FieldOp.EQ, v), (), lambda i: False).params)
        for v in (1, True, "1")
    }
    assert len(keys) == 3
