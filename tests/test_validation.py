"""nnlite._validation: every check accepts what it should, refuses bools and the rest with a message
naming the owner, the argument, what arrived and what was expected."""
import numpy as np
import pytest

from nnlite._validation import (
    check_bool,
    check_choice,
    check_finite,
    check_int,
    check_number,
    check_odd_int,
    int_tuple,
    pair,
    positive_int,
)


def test_ints():
    assert check_int("M", "n", np.int64(3)) == 3 and type(check_int("M", "n", np.int64(3))) is int
    assert check_int("M", "n", None, allow_none=True) is None
    assert check_int("M", "depth", 0, low=0) == 0
    assert positive_int("Conv2d", "in_channels", 2) == 2
    for bad, msg in [(0, r"M: n must be an int >= 1, got 0"), (True, r"got True"), (2.0, r"got 2\.0"),
                     (None, r"M: n must be an int >= 1, got None"), (np.True_, r"got (np\.)?True")]:
        with pytest.raises(ValueError, match=msg):
            check_int("M", "n", bad)
    with pytest.raises(ValueError, match=r"M: n must be an int >= 1 or None, got -1"):
        check_int("M", "n", -1, allow_none=True)


def test_numbers_choices_and_flags():
    assert check_number("M", "lr", 1e-3) == 1e-3 and check_number("M", "beta", 0, allow_zero=True) == 0.0
    for bad in (0, -1.0, np.nan, np.inf, True, "1"):
        with pytest.raises(ValueError, match=r"M: lr must be a finite number > 0, got"):
            check_number("M", "lr", bad)
    assert check_choice("M", "loss", "MSE", ("mse", "bce")) == "mse"
    with pytest.raises(ValueError, match=r"M: loss must be one of \['bce', 'mse'\], got 'l1'"):
        check_choice("M", "loss", "l1", ("mse", "bce"))
    assert check_bool("M", "clip", np.True_) is True
    with pytest.raises(ValueError, match=r"M: clip must be True or False, got 1"):
        check_bool("M", "clip", 1)
    assert check_odd_int("M", "kernel_size", 5) == 5
    for bad in (4, 0, True, 3.0):
        with pytest.raises(ValueError, match=r"M: kernel_size must be an odd int >= 1, got"):
            check_odd_int("M", "kernel_size", bad)


def test_tuples_and_pairs():
    assert int_tuple("M", "hidden", 8, "layer widths") == (8,)
    assert int_tuple("M", "hidden", [4, np.int32(2)], "layer widths") == (4, 2)
    assert int_tuple("M", "hidden", (), "layer widths") == ()
    with pytest.raises(ValueError, match=r"M: channels must be a non-empty tuple of channel counts \(ints >= 1\)"):
        int_tuple("M", "channels", (), "channel counts", allow_empty=False)
    for bad in ((4, 0), (4, True), 2.5, "ab"):
        with pytest.raises(ValueError, match=r"M: hidden must be a tuple of layer widths \(ints >= 1\), got"):
            int_tuple("M", "hidden", bad, "layer widths")
    assert pair("L", "stride", 2) == (2, 2) and pair("L", "padding", [0, 1], minimum=0) == (0, 1)
    with pytest.raises(ValueError, match=r"L: stride must be >= 1, got \(1, 0\)"):
        pair("L", "stride", (1, 0))
    for bad in ((1, 2, 3), (1.0, 2), True, "2"):
        with pytest.raises(ValueError, match=r"L: stride must be an int or a pair of ints, got"):
            pair("L", "stride", bad)


def test_finite():
    x = np.ones(3)
    assert check_finite("M.decode", "Z", x) is x
    with pytest.raises(ValueError, match=r"M\.decode: Z contains NaN or inf"):
        check_finite("M.decode", "Z", np.array([1.0, np.inf]))
