"""Dates in aggregation expressions: ``$dateToString`` formats and timezones.

BSON dates are UTC instants with millisecond precision; a naive ``datetime`` is read as UTC
(what pymongo returns by default), an aware one is converted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lexigram_nosql.errors import InvalidQueryError

__all__ = [
    "format_date",
    "parse_timezone",
    "to_utc",
    "utc_millis",
    "utc_now",
    "validate_date_format",
]

_OPERATOR: Final = "$dateToString"
_SPECIFIERS: Final = frozenset("dGHjLmMSuUVwYzZbB%")
_OFFSET = re.compile(r"^([+-])(\d{2})(?::?(\d{2}))?$")
_MONTHS: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def utc_now() -> datetime:
    """Now, in UTC, at the millisecond precision MongoDB dates have (``$currentDate``, TTL):
    the one clock of the engine and every backend, so a stored date round-trips anywhere."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def utc_millis(value: datetime) -> datetime:
    """``value`` as MongoDB stores it: a plain ``datetime``, aware, in UTC, truncated to
    milliseconds (a naive datetime is taken as UTC, as PyMongo does)."""
    tz = value.tzinfo
    if tz is UTC and type(value) is datetime and not value.microsecond % 1000:
        return value
    aware = value.replace(tzinfo=UTC) if tz is None else value.astimezone(UTC)
    return datetime(
        aware.year,
        aware.month,
        aware.day,
        aware.hour,
        aware.minute,
        aware.second,
        aware.microsecond - aware.microsecond % 1000,
        tzinfo=UTC,
    )


def to_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive values are taken to be UTC already)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def validate_date_format(fmt: str) -> None:
    """Refuse a format with an unknown ``%`` specifier or a dangling ``%``."""
    index = 0
    while index < len(fmt):
        if fmt[index] == "%":
            if index + 1 >= len(fmt):
                raise InvalidQueryError(
                    f"{_OPERATOR} format {fmt!r} ends with an unescaped '%'.", operator=_OPERATOR
                )
            if fmt[index + 1] not in _SPECIFIERS:
                raise InvalidQueryError(
                    f"{_OPERATOR} format {fmt!r} has the unknown specifier %{fmt[index + 1]}.",
                    operator=_OPERATOR,
                )
            index += 2
        else:
            index += 1


def parse_timezone(name: str) -> tzinfo:
    """An Olson name (``Europe/Paris``), ``UTC``/``GMT`` or an offset (``+05:30``, ``-0800``)."""
    if name in ("UTC", "GMT", "Z"):
        return UTC
    match = _OFFSET.match(name)
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidQueryError(
            f"{_OPERATOR} timezone {name!r} is not an Olson timezone name or a UTC offset.",
            operator=_OPERATOR,
        ) from None


def format_date(value: datetime, fmt: str, zone: tzinfo | None) -> str:
    """Format ``value`` with MongoDB's ``$dateToString`` specifiers, in ``zone`` (UTC)."""
    validate_date_format(fmt)
    local = to_utc(value).astimezone(zone or UTC)
    offset = local.utcoffset() or timedelta(0)
    offset_minutes = int(offset.total_seconds() // 60)
    iso_year, iso_week, iso_weekday = local.isocalendar()
    out: list[str] = []
    index = 0
    while index < len(fmt):
        char = fmt[index]
        if char != "%":
            out.append(char)
            index += 1
            continue
        spec = fmt[index + 1]
        index += 2
        if spec == "Y":
            out.append(f"{local.year:04d}")
        elif spec == "m":
            out.append(f"{local.month:02d}")
        elif spec == "d":
            out.append(f"{local.day:02d}")
        elif spec == "H":
            out.append(f"{local.hour:02d}")
        elif spec == "M":
            out.append(f"{local.minute:02d}")
        elif spec == "S":
            out.append(f"{local.second:02d}")
        elif spec == "L":
            out.append(f"{local.microsecond // 1000:03d}")
        elif spec == "j":
            out.append(f"{local.timetuple().tm_yday:03d}")
        elif spec == "w":  # 1 (Sunday) to 7 (Saturday)
            out.append(str(iso_weekday % 7 + 1))
        elif spec == "u":  # ISO: 1 (Monday) to 7 (Sunday)
            out.append(str(iso_weekday))
        elif spec == "U":  # week of the year, weeks starting on Sunday
            out.append(local.strftime("%U"))
        elif spec == "V":
            out.append(f"{iso_week:02d}")
        elif spec == "G":
            out.append(f"{iso_year:04d}")
        elif spec == "z":
            sign = "-" if offset_minutes < 0 else "+"
            hours, minutes = divmod(abs(offset_minutes), 60)
            out.append(f"{sign}{hours:02d}{minutes:02d}")
        elif spec == "Z":
            out.append(f"{offset_minutes:+d}")
        elif spec == "b":
            out.append(_MONTHS[local.month - 1][:3])
        elif spec == "B":
            out.append(_MONTHS[local.month - 1])
        else:  # "%%"
            out.append("%")
    return "".join(out)
