"""The hidden field order of items and maps.

MongoDB's document equality depends on field order; DynamoDB keeps no order of attributes or
map keys. An item or map whose names are in sorted (code point) order needs nothing: that is
the order they are read back in. Any other order is kept in the hidden ``__lx:o`` attribute,
written in one of two forms, told apart by the first character:

* **compact** (written by this version): a header character, then one code of ``w``
  characters per field in document order, where a name's code is ``crc32(name, salt)``
  modulo ``64**w`` in the 64 characters of ``_ALPHABET``; the header says ``w`` (1 or 2) and
  the salt (0 to 31), chosen as the first that gives the document's names distinct codes.
  ``{"_id", "n", "name", "group", "tags", "score"}`` is 7 bytes (the JSON list: 40);
* **JSON** (``[...]``, the list of names; written by earlier versions, and by this one for
  documents whose names no salt tells apart): still read.

Both forms place a name by what it is, never by how many names there are, so an attribute
removed without rewriting the order (``$unset`` by key is one ``UpdateItem``) leaves the
others where they were; names the order does not place (written by another tool) follow
the placed ones, sorted. A compact code is 6 or 12 bits: an unplaced name whose code
happens to equal a placed one is read at that place (names this package writes are always
placed).
"""

from __future__ import annotations

import functools
import json
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["HIDDEN_PREFIX", "ORDER", "ordered_names", "order_text"]

HIDDEN_PREFIX: Final = "__lx:"
"""Every hidden attribute's name starts with it (never a document field's)."""
ORDER: Final = HIDDEN_PREFIX + "o"
"""The hidden field order of an item or map (absent when the names are sorted)."""

_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"
_DIGIT: Final = {character: value for value, character in enumerate(_ALPHABET)}
_SALTS: Final = 32
_WIDTHS: Final = (1, 2)
_SHAPES_KEPT: Final = 4096


@functools.lru_cache(maxsize=_SHAPES_KEPT)
def order_text(names: tuple[str, ...]) -> str | None:
    """The order attribute's text for fields in this order; None when it is sorted (no
    attribute needed). Documents of one shape share it: computed once per shape."""
    if list(names) == sorted(names):
        return None
    return _compact(names) or json.dumps(names, ensure_ascii=False, separators=(",", ":"))


def _compact(names: tuple[str, ...]) -> str | None:
    encoded = [name.encode() for name in names]
    for width in _WIDTHS:
        modulus = len(_ALPHABET) ** width
        for salt in range(_SALTS):
            codes = [zlib.crc32(name, salt) % modulus for name in encoded]
            if len(set(codes)) == len(codes):
                header = _ALPHABET[(width - 1) * _SALTS + salt]
                return header + "".join(_spelled(code, width) for code in codes)
    return None


def _spelled(code: int, width: int) -> str:
    digits = []
    for _ in range(width):
        code, digit = divmod(code, len(_ALPHABET))
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits))


_shapes: dict[tuple[str | None, frozenset[str]], tuple[str, ...]] = {}
"""Names in document order, by order text and attribute names: an item's shape, shared by
every item of a collection written from one kind of document."""


def ordered_names(attributes: Mapping[str, Any]) -> Sequence[str]:
    """The field names of an item or map (attribute names, hidden ones left out) in
    document order."""
    order = attributes.get(ORDER)
    text = order.get("S") if order is not None else None
    if text is not None and text[:1] == "[":
        return _listed_names(text, attributes)
    shape = (text, frozenset(attributes))
    names = _shapes.get(shape)
    if names is None:
        if len(_shapes) >= _SHAPES_KEPT:
            _shapes.clear()
        names = _shapes[shape] = _placed(text, shape[1])
    return names


def _placed(text: str | None, attributes: frozenset[str]) -> tuple[str, ...]:
    fields = sorted(name for name in attributes if not name.startswith(HIDDEN_PREFIX))
    parsed = _positions(text) if text is not None else None
    if parsed is None:
        return tuple(fields)
    width, salt, positions = parsed
    modulus = len(_ALPHABET) ** width
    placed: list[tuple[int, str]] = []
    rest: list[str] = []
    for name in fields:
        position = positions.get(zlib.crc32(name.encode(), salt) % modulus)
        if position is None:
            rest.append(name)
        else:
            placed.append((position, name))
    placed.sort()
    return (*(name for _, name in placed), *rest)


@functools.lru_cache(maxsize=_SHAPES_KEPT)
def _positions(text: str) -> tuple[int, int, dict[int, int]] | None:
    """(width, salt, position of each code) of a compact order text; None if not one."""
    header = _DIGIT.get(text[:1])
    if header is None or header >= _SALTS * len(_WIDTHS):
        return None
    width, salt = _WIDTHS[header // _SALTS], header % _SALTS
    body = text[1:]
    if len(body) % width:
        return None
    positions: dict[int, int] = {}
    for position, start in enumerate(range(0, len(body), width)):
        code = 0
        for character in body[start : start + width]:
            digit = _DIGIT.get(character)
            if digit is None:
                return None
            code = code * len(_ALPHABET) + digit
        positions.setdefault(code, position)
    return width, salt, positions


# -- the JSON form (earlier versions) -------------------------------------------------------


def _listed_names(text: str, attributes: Mapping[str, Any]) -> Sequence[str]:
    listed, distinct = _listed(text)
    if distinct is not None:
        keys = attributes.keys()
        if distinct <= keys and all(n.startswith(HIDDEN_PREFIX) for n in keys - distinct):
            return listed  # the usual case: every field listed once, nothing else but hidden
    names = list(dict.fromkeys(n for n in listed if n in attributes))
    known = set(names)
    names.extend(
        sorted(n for n in attributes if n not in known and not n.startswith(HIDDEN_PREFIX))
    )
    return names


@functools.lru_cache(maxsize=_SHAPES_KEPT)
def _listed(text: str) -> tuple[tuple[str, ...], frozenset[str] | None]:
    """The names a JSON order text lists, and their set when each is listed once (parsed
    once per shape)."""
    try:
        names = json.loads(text)
    except ValueError:
        return (), frozenset()
    if not isinstance(names, list):
        return (), frozenset()
    kept = tuple(n for n in names if isinstance(n, str))
    distinct = frozenset(kept)
    return kept, distinct if len(distinct) == len(kept) else None
