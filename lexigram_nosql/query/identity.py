"""Whether two stored values are the same value as MongoDB stores it: how every backend
decides that an update modified a document (``modified_count``).

MongoDB compares the stored bytes, so types count throughout (``1`` is not ``1.0`` nor
``True``), ``-0.0`` is not ``0.0``, NaN is NaN, and an embedded document's field order counts."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

__all__ = ["same_stored"]


def same_stored(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_stored(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_stored(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, datetime):
        return bool(a == b and a.tzinfo == b.tzinfo)
    return bool(a == b)
