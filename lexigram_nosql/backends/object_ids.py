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

__all__ = ["new_object_id", "new_object_id_bytes"]


def _seed() -> None:
    global _process, _counter
    _process = os.urandom(5)
    _counter = itertools.count(int.from_bytes(os.urandom(3), "big"))


_process: bytes
_counter: itertools.count[int]
_seed()
os.register_at_fork(after_in_child=_seed)


def new_object_id_bytes() -> bytes:
    """The twelve bytes of a new ObjectId (``bson.ObjectId(new_object_id_bytes())``)."""
    return (
        (int(time.time()) & 0xFFFFFFFF).to_bytes(4, "big")
        + _process
        + (next(_counter) & 0xFFFFFF).to_bytes(3, "big")
    )


def new_object_id() -> str:
    """A new ObjectId as its 24 lowercase hex digits, the form this package hands out."""
    return new_object_id_bytes().hex()
