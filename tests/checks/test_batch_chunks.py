"""A batch's chunks cover every item once, in order, small first and never larger than the largest."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from registry.checks.routes import FIRST_CHUNK, LARGEST_CHUNK, chunks


@given(st.integers(min_value=0, max_value=25_000))
def test_chunks_cover_the_batch_in_order(total: int) -> None:
    bounds = chunks(total)
    covered = [i for start, end in bounds for i in range(start, end)]
    assert covered == list(range(total))
    assert all(0 < end - start <= LARGEST_CHUNK for start, end in bounds)
    if total:
        assert bounds[0] == (0, min(FIRST_CHUNK, total))


def test_a_batch_of_ten_thousand_is_eight_statements_not_forty() -> None:
    assert [end - start for start, end in chunks(10_000)] == [250, 500, 1000, 2000, 2000, 2000, 2000, 250]
