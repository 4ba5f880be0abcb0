"""The stratified val allocation and the bounded selector behind the streaming split."""

from __future__ import annotations

import pytest

from data_prep.split import ValSelector, allocate_val, default_val_size, row_key


def test_allocation_is_proportional_and_exact():
    assert allocate_val({"a": 600, "b": 300, "c": 100}, 100) == {"a": 60, "b": 30, "c": 10}
    quota = allocate_val({"a": 7, "b": 5, "c": 3}, 6)
    assert sum(quota.values()) == 6 and all(q >= 1 for q in quota.values())


def test_every_category_with_two_rows_is_covered_and_keeps_a_train_row():
    quota = allocate_val({"big": 1000, "tiny": 2, "single": 1}, 10)
    assert quota["tiny"] == 1 and quota["single"] == 0 and sum(quota.values()) == 10
    assert allocate_val({"a": 2, "b": 2}, 100) == {"a": 1, "b": 1}  # never all of a category


def test_coverage_wins_over_a_tiny_val_size_and_zero_means_none():
    assert allocate_val({"a": 50, "b": 50, "c": 50}, 2) == {"a": 1, "b": 1, "c": 1}
    assert allocate_val({"a": 50, "b": 50}, 0) == {"a": 0, "b": 0}
    assert allocate_val({}, 10) == {}


def test_selector_takes_the_smallest_keys_per_category_with_bounded_memory():
    selector = ValSelector(cap=3)
    for line in range(1, 201):
        selector.add("even" if line % 2 == 0 else "odd", row_key(0, f"q{line}", ("img.png",)), line)
    assert all(len(heap) <= 3 for heap in selector._heaps.values())
    chosen, quota = selector.select(4)
    assert quota == {"even": 2, "odd": 2} and len(chosen) == 4
    for parity in (0, 1):
        lines = [n for n in range(1, 201) if n % 2 == parity]
        best = sorted(lines, key=lambda n: (row_key(0, f"q{n}", ("img.png",)), n))[:2]
        assert set(best) <= chosen
    with pytest.raises(ValueError, match="more than the 3 rows"):
        selector.select(10)


def test_keys_are_seeded_and_content_based():
    assert row_key(1, "q", ("a.png",)) == row_key(1, "q", ("a.png",))
    assert row_key(1, "q", ("a.png",)) != row_key(2, "q", ("a.png",))
    assert row_key(1, "q", ("a.png",)) != row_key(1, "q", ("b.png",))
    assert default_val_size(100) == 5 and default_val_size(10**6) == 1000
