"""A store's circuit breaker: while its server is down, calls fail at once instead of each
waiting out the driver's timeouts.

closed --(``failures`` consecutive connection failures or deadline expiries)--> open
open --(``reset_s`` later, the next call is let through as the one trial)--> half-open
half-open --(trial succeeds)--> closed;  --(trial fails)--> open for another ``reset_s``

One small class rather than ``purgatory``: the states must be read by health, give
``retry_after`` and the time the outage began, count only our connection errors, and cost one
comparison per call while closed; purgatory's decorator, storage layer and exception types
would have to be wrapped to get each of those.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["BreakerState", "CircuitBreaker", "is_settled", "settle"]

logger = logging.getLogger("lexigram_nosql")


_SETTLED = "_lexigram_breaker_settled"


def settle(error: BaseException) -> None:
    """Mark ``error`` as needing no breaker count: counted once already (an error that passes
    through nested operations), or saying nothing of the server's health (a time bound the
    caller chose, such as ``max_time_ms``)."""
    setattr(error, _SETTLED, True)


def is_settled(error: BaseException) -> bool:
    return getattr(error, _SETTLED, False)


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """The breaker of the store named ``store``; see the module docstring for its states."""

    def __init__(
        self,
        store: str,
        *,
        failures: int,
        reset_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.failures = failures
        self.reset_s = reset_s
        self._clock = clock
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        """Failures counted in a row while closed (a success resets it)."""
        self._trial_running = False
        self._next_attempt = 0.0
        self.since: datetime | None = None
        """When the store became unavailable (the breaker opened), None while closed."""
        self.cause: str | None = None
        """The short cause of the latest failure counted."""

    @property
    def state(self) -> BreakerState:
        return self._state

    @state.setter
    def state(self, state: BreakerState) -> None:
        self._state = state
        # A field, not a property: the per-operation wrapper reads it on every call.
        self.is_closed = state is BreakerState.CLOSED

    def retry_after(self) -> float | None:
        """Seconds until a trial call may go (0 when it may go now); None while closed."""
        if self.state is BreakerState.CLOSED:
            return None
        return max(0.0, self._next_attempt - self._clock())

    def admit(self) -> bool | None:
        """May a call go to the server? True: yes, as the half-open trial; False: yes, as
        usual; None: no (the caller fails at once)."""
        if self.state is BreakerState.CLOSED:
            return False
        if self._trial_running or self._clock() < self._next_attempt:
            return None
        self._trial_running = True
        if self.state is BreakerState.OPEN:
            self.state = BreakerState.HALF_OPEN
            logger.debug("Store %s: circuit half-open, one trial call goes through", self.store)
        return True

    def succeeded(self, trial: bool) -> None:
        """A call reached the server (whatever it answered)."""
        if self.state is BreakerState.CLOSED:
            self.consecutive_failures = 0
            return
        if not trial:  # a call admitted before the breaker opened: only the trial decides
            return
        down_s = (datetime.now(UTC) - self.since).total_seconds() if self.since else 0.0
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self._trial_running = False
        self.since = self.cause = None
        logger.info("Store %s is available again (circuit closed after %.1fs)", self.store, down_s)

    def failed(self, trial: bool, cause: str) -> None:
        """A call failed to reach the server (connection failure or deadline expiry)."""
        self.cause = cause
        if self.state is BreakerState.CLOSED:
            self.consecutive_failures += 1
            if self.consecutive_failures >= self.failures:
                self.state = BreakerState.OPEN
                self.since = datetime.now(UTC)
                self._next_attempt = self._clock() + self.reset_s
                logger.warning(
                    "Store %s unavailable after %d consecutive failures (%s): calls fail at "
                    "once; next attempt in %gs",
                    self.store,
                    self.consecutive_failures,
                    cause,
                    self.reset_s,
                )
            return
        if trial:
            self._trial_running = False
            self.state = BreakerState.OPEN
            self._next_attempt = self._clock() + self.reset_s
            logger.info(
                "Store %s still unavailable (%s); next attempt in %gs",
                self.store,
                cause,
                self.reset_s,
            )

    def abandoned(self, trial: bool) -> None:
        """The call ended without telling (cancelled by its caller): let another trial go."""
        if trial:
            self._trial_running = False

    def describe(self) -> str:
        """``unavailable since <time>, next attempt in <s>`` (for errors and health)."""
        since = (
            self.since.isoformat(timespec="seconds").replace("+00:00", "Z") if self.since else "?"
        )
        return f"unavailable since {since}, next attempt in {self.retry_after() or 0.0:.1f}s"
