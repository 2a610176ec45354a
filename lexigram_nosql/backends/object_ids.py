"""New ids shaped like MongoDB's ObjectId, for every backend.

Twelve bytes, as the ObjectId specification lays them out: four of seconds since the epoch
(ids sort roughly by creation, so a backend that orders by id follows insertion order), five
random bytes per process, and a three-byte counter that starts at random. They are unique
without coordination, as ObjectIds are: a forked child draws its own random bytes, so
workers forked from one parent never share them. Cheaper than ``bson.ObjectId()`` (no lock:
``next`` on an ``itertools.count`` is atomic), which matters on every ``insert_many``.
"""

from __future__ import annotations

import itertools
import os
import time

__all__ = ["new_object_id", "new_object_id_bytes", "new_object_ids_bytes"]


def _seed() -> None:
    global _process, _counter
    _process = int.from_bytes(os.urandom(5), "big") << 24  # the id's bytes 5-9, in place
    _counter = itertools.count(int.from_bytes(os.urandom(3), "big"))


_process: int
_counter: itertools.count[int]
_seed()
os.register_at_fork(after_in_child=_seed)


def new_object_id_bytes() -> bytes:
    """The twelve bytes of a new ObjectId (``bson.ObjectId(new_object_id_bytes())``)."""
    stamp = (int(time.time()) & 0xFFFFFFFF) << 64
    return (stamp | _process | (next(_counter) & 0xFFFFFF)).to_bytes(12, "big")


def new_object_ids_bytes(count: int) -> list[bytes]:
    """``count`` new ids' bytes at once, for the documents of one ``insert_many``: one clock
    reading for all of them (a third of what making them one by one costs)."""
    prefix = ((int(time.time()) & 0xFFFFFFFF) << 64) | _process
    return [
        (prefix | (counter & 0xFFFFFF)).to_bytes(12, "big")
        for counter in itertools.islice(_counter, count)
    ]


def new_object_id() -> str:
    """A new ObjectId as its 24 lowercase hex digits, the form this package hands out."""
    return new_object_id_bytes().hex()
