"""How long a failed delivery waits before its next try: doubling steps with "equal jitter"."""

from __future__ import annotations

import random
from datetime import timedelta


def equal_jitter(attempts: int, first: timedelta, longest: timedelta) -> timedelta:
    """The wait after a failed try, `attempts` being the tries that failed before it.

    The step doubles from `first` up to `longest`; the wait is half the step plus a random part of
    the other half. Half for sure keeps the waits growing; the random half keeps the jobs that
    failed together (a gateway or a receiver down, hundreds of messages) from all coming back
    together, try after try.
    """
    step: timedelta = min(first * 2 ** min(attempts, 20), longest)
    return step / 2 + step / 2 * random.random()
