"""When to try a failed delivery again: exponential backoff with jitter.

The n-th failed attempt waits ``base * 2**(n-1)`` seconds, capped at ``cap``, of which the
second half is random ("equal jitter"): retries of many deliveries that failed together spread
out instead of hammering a recovering gateway at the same second, and no retry comes sooner
than half its nominal delay. A server's own ``Retry-After`` wins over the formula.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta


def backoff_delay(attempt: int, *, base: float, cap: float, retry_after: float | None = None,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    if retry_after is not None and retry_after >= 0:
        return float(retry_after)
    nominal = min(cap, base * 2 ** max(0, attempt - 1))
    return nominal / 2 + (rng or random).uniform(0, nominal / 2)


def next_attempt_at(now: datetime, attempt: int, *, base: float, cap: float,
                    retry_after: float | None = None) -> datetime:
    return now + timedelta(seconds=backoff_delay(attempt, base=base, cap=cap,
                                                 retry_after=retry_after))
