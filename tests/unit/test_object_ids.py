"""Ids every backend generates: ObjectIds by the specification's layout, unique within a
process and across forked workers, readable by ``bson.ObjectId``."""

from __future__ import annotations

import itertools
import os
import re
import time

import pytest

from lexigram_nosql.backends.object_ids import (
    new_object_id,
    new_object_id_bytes,
    new_object_ids_bytes,
)


def test_ids_are_distinct_24_hex_strings_in_creation_order_of_seconds() -> None:
    before = int(time.time())
    ids = [new_object_id() for _ in range(5000)]
    assert len(set(ids)) == 5000
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids)
    assert before <= int(ids[0][:8], 16) <= int(time.time())
    assert len({i[8:18] for i in ids}) == 1  # one random part per process
    counters = [int(i[18:], 16) for i in ids]
    assert all((b - a) % 2**24 == 1 for a, b in itertools.pairwise(counters))


def test_ids_made_at_once_are_laid_out_as_those_made_one_by_one() -> None:
    """``insert_many``'s ids, made together: distinct, the same process part, counters
    following on from (and followed by) those of single ids."""
    before = new_object_id_bytes()
    batch = new_object_ids_bytes(1000)
    after = new_object_id_bytes()
    assert len(batch) == len(set(batch)) == 1000
    assert all(len(made) == 12 and made[4:9] == before[4:9] for made in batch)
    counters = [int.from_bytes(made[9:], "big") for made in [before, *batch, after]]
    assert all((b - a) % 2**24 == 1 for a, b in itertools.pairwise(counters))
    assert new_object_ids_bytes(0) == []


def test_the_bytes_are_an_object_id() -> None:
    bson = pytest.importorskip("bson")
    made = new_object_id_bytes()
    assert str(bson.ObjectId(made)) == made.hex()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_worker_draws_its_own_random_part() -> None:
    """Workers forked from one parent (gunicorn's preload) must not share the random part,
    or their counters would give the same ids."""
    parent = new_object_id_bytes()[4:9]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, new_object_id_bytes()[4:9])
        os._exit(0)
    os.close(write)
    child = os.read(read, 5)
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 5 and child != parent
