"""Minibatch iterator: coverage, seeding, drop_last, views without shuffling, no copy of the whole set."""
import numpy as np
import pytest

from nnlite.data.batches import Minibatches, iterate_minibatches


def test_every_row_exactly_once_and_pairs_stay_aligned():
    x = np.arange(23 * 2).reshape(23, 2)
    y = np.arange(23) * 10
    seen = []
    for xb, yb in iterate_minibatches(x, y, batch_size=5, random_state=0):
        np.testing.assert_array_equal(xb[:, 0] // 2 * 10, yb)   # rows of x and y still match
        seen.extend(yb // 10)
    assert sorted(seen) == list(range(23)) and seen != list(range(23))  # all rows, shuffled
    sizes = [len(b) for b in iterate_minibatches(x, batch_size=5, random_state=0)]
    assert sizes == [5, 5, 5, 5, 3]


def test_same_seed_same_batches_different_seed_different():
    x = np.arange(50)
    a = [b.tolist() for b in iterate_minibatches(x, batch_size=8, random_state=3)]
    b = [b.tolist() for b in iterate_minibatches(x, batch_size=8, random_state=3)]
    c = [b.tolist() for b in iterate_minibatches(x, batch_size=8, random_state=4)]
    assert a == b and a != c


def test_drop_last_and_no_shuffle_gives_views():
    x = np.arange(10.0)
    batches = list(iterate_minibatches(x, batch_size=4, shuffle=False, drop_last=True))
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert all(np.shares_memory(b, x) for b in batches)  # slices, not copies


def test_shuffled_batches_do_not_touch_the_data():
    x = np.arange(12.0).reshape(6, 2)
    before = x.copy()
    for xb in iterate_minibatches(x, batch_size=4, random_state=1):
        assert not np.shares_memory(xb, x)  # one batch copied at a time...
        xb[:] = -1
    np.testing.assert_array_equal(x, before)  # ...and the data set itself left alone


def test_minibatches_class_reshuffles_each_epoch_reproducibly():
    x = np.arange(30)
    mb = Minibatches(x, batch_size=7, random_state=0)
    assert len(mb) == 5 and len(Minibatches(x, batch_size=7, drop_last=True)) == 4
    e1, e2 = [np.concatenate(list(mb)).tolist() for _ in range(2)]
    assert e1 != e2 and sorted(e1) == sorted(e2) == list(range(30))
    again = Minibatches(x, batch_size=7, random_state=0)
    assert [np.concatenate(list(again)).tolist() for _ in range(2)] == [e1, e2]


@pytest.mark.parametrize("args, kwargs, match", [
    ((np.zeros(3), np.zeros(4)), dict(batch_size=2), r"same length along axis 0, got lengths \[3, 4\]"),
    ((np.zeros(3),), dict(batch_size=0), "batch_size must be a positive int, got 0"),
    ((np.zeros(3),), dict(batch_size=2.5), "batch_size must be a positive int"),
    ((), dict(batch_size=2), "at least one array"),
    ((np.float64(3.0),), dict(batch_size=2), "first .sample. axis"),
])
def test_validation(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        iterate_minibatches(*args, **kwargs)  # raises at the call, before iteration
