"""How the parallel loops cut their work into tasks (pure functions)."""

import numpy as np
import pytest

from sklearn_l3ae._core import parallel


def _flatten(groups):
    return [position for group in groups for position in group]


def _brute_force_split(sizes, bounds):
    """A unit closes a group when the running sum reaches the next bound."""
    total, done, groups, current = sum(sizes), 0, [], []
    for position, size in enumerate(sizes):
        done += size
        current.append(position)
        if len(groups) < len(bounds) and done >= total * bounds[len(groups)]:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


@pytest.mark.parametrize("seed", range(5))
def test_split_at_is_the_running_sum_rule(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 50, size=rng.integers(1, 200)).tolist()
    bounds = np.sort(rng.uniform(0, 1, size=rng.integers(1, 30))).tolist() + [1.0]
    groups = parallel.split_at(sizes, bounds)
    assert [list(g) for g in groups] == _brute_force_split(sizes, bounds)
    assert _flatten(groups) == list(range(len(sizes)))
    assert all(len(group) > 0 for group in groups)


def test_split_evenly_gives_equal_sums():
    groups = parallel.split_evenly([1] * 100, 8)
    assert [len(group) for group in groups] == [13, 12, 13, 12, 13, 12, 13, 12]
    assert len(parallel.split_evenly([5, 5], 8)) == 2  # one group per unit at most


def test_tapered_bounds_cut_each_workers_last_share_in_pieces():
    bounds = parallel.tapered_bounds(32, 2)
    assert len(bounds) == 30 + 2 * parallel.TAPER_PIECES
    assert bounds[-1] == pytest.approx(1.0)
    widths = np.diff([0.0, *bounds])
    np.testing.assert_allclose(widths[:30], 1 / 32)
    np.testing.assert_allclose(widths[30:], 1 / (32 * parallel.TAPER_PIECES))


def test_tapered_groups_keep_the_blocks_in_order_and_end_small():
    blocks = [np.arange(start, start + 5) for start in range(0, 3200, 5)]
    plain = parallel.group_blocks(blocks, 2, per_worker=16)
    tapered = parallel.group_blocks(blocks, 2, per_worker=16, taper=True)
    assert len(plain) == 32
    assert len(tapered) == 30 + 2 * parallel.TAPER_PIECES
    for groups in (plain, tapered):
        ordered = np.concatenate([b for group in groups for b in group])
        np.testing.assert_array_equal(ordered, np.arange(3200))
    sizes = [sum(len(b) for b in group) for group in tapered]
    assert set(sizes[:30]) == {100}
    assert set(sizes[30:]) == {100 // parallel.TAPER_PIECES}
    # One worker: nothing to balance, the groups are not cut.
    assert len(parallel.group_blocks(blocks, 1, per_worker=16, taper=True)) == 16


def test_batch_ranges_start_on_batch_boundaries():
    ranges = parallel.batch_ranges(100_000, 8128, 2, per_worker=8)
    assert len(ranges) == 13  # one per batch: fewer batches than 16 tasks
    assert ranges[0][0] == 0 and ranges[-1][1] == 100_000
    assert all(start % 8128 == 0 for start, _ in ranges)
    assert all(a[1] == b[0] for a, b in zip(ranges[:-1], ranges[1:], strict=True))
    assert len(parallel.batch_ranges(100_000, 1000, 2)) == 2 * parallel.TASKS_PER_WORKER
