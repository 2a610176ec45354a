"""A short end-of-run summary: conformance cases per backend, skips and xfails by reason.

pyproject asks for ``-rfE`` instead of ``-ra``, which listed every skip and expected failure
on a line of its own (over a thousand lines before the counts). Failures and errors are
still listed one by one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

CONFORMANCE = "tests/conformance/"
# Backends whose cases go over the wire to a real server (the others run in-process).
OVER_THE_WIRE = frozenset({"mongodb-pymongo", "mongodb-motor", "dynamodb", "firestore"})


def backend_of(nodeid: str, backend_ids: Iterable[str]) -> str | None:
    """The backend a parametrized test ran on, from the id in its brackets."""
    params = nodeid.partition("[")[2].rstrip("]")
    for ident in sorted(backend_ids, key=len, reverse=True):
        if params == ident or params.startswith(f"{ident}-") or params.endswith(f"-{ident}"):
            return ident
    return None


def _reason(report: Any) -> str:
    if hasattr(report, "wasxfail"):
        return str(report.wasxfail).removeprefix("reason: ")
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def write(reporter: Any, backend_ids: Iterable[str]) -> None:
    ids = list(backend_ids)
    outcomes: dict[str, Counter[str]] = {ident: Counter() for ident in ids}
    for outcome in ("passed", "failed", "xfailed", "xpassed", "skipped", "error"):
        for report in reporter.stats.get(outcome, []):
            if getattr(report, "when", "call") not in ("call", "setup"):
                continue
            if not report.nodeid.startswith(CONFORMANCE):
                continue
            ident = backend_of(report.nodeid, ids)
            if ident is not None:
                outcomes[ident][outcome] += 1
    if any(outcomes.values()):
        reporter.write_sep("-", "conformance cases per backend")
    for ident in (ident for ident in ids if outcomes[ident]):
        counts = outcomes[ident]
        where = "over the wire" if ident in OVER_THE_WIRE else "in process"
        detail = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()) if o != "passed")
        reporter.write_line(
            f"{ident:<18} {counts['passed']:>5} passed {where}" + (f" ({detail})" if detail else "")
        )
    for outcome, title in (("skipped", "skips"), ("xfailed", "expected failures")):
        reasons: Counter[str] = Counter(
            _reason(report) for report in reporter.stats.get(outcome, [])
        )
        if reasons:
            reporter.write_sep("-", f"{title} by reason")
            for reason, count in reasons.most_common():
                reporter.write_line(f"{count:>5}  {reason}")
