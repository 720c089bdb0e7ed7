"""Retry waits: growing, each drawn at random within its step, and a day of them still spans the day."""

from __future__ import annotations

from datetime import timedelta

from registry.webhooks.delivery import FIRST_RETRY, LIFETIME, LONGEST_RETRY, retry_wait


def test_each_wait_lies_between_half_and_all_of_its_step_and_they_differ() -> None:
    for attempts in range(25):
        step = min(FIRST_RETRY * 2**attempts, LONGEST_RETRY)
        # Deliveries that failed together (one receiver down) and have failed as often.
        waits = [retry_wait(attempts) for _ in range(200)]
        assert all(step / 2 <= wait <= step for wait in waits), attempts
        assert len(set(waits)) > 150, attempts


def test_a_receiver_down_for_a_day_is_tried_until_the_last_hour_of_it() -> None:
    """As the worker decides: try again while the next try falls within 24 hours of the event."""
    for _ in range(200):
        age, attempts = timedelta(0), 0
        while age + (wait := retry_wait(attempts)) <= LIFETIME:
            age += wait
            attempts += 1
        assert LIFETIME - LONGEST_RETRY < age <= LIFETIME
