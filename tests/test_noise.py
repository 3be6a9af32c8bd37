"""Statistics and contracts of nnlite.noise.

Fractions are checked against their binomial expectation with a tolerance of 5 standard deviations
(sqrt(n p (1-p)) / n), so a correct implementation fails with probability < 1e-6 and the seeds are fixed.
"""
import numpy as np
import pytest

from nnlite import noise
from nnlite.noise import bit_flip, gaussian, get_noise, masking, salt_and_pepper

N = 200_000


def tol(p, n=N, k=5.0):
    return k * np.sqrt(p * (1 - p) / n)


@pytest.fixture
def x_interior():
    # Values strictly inside (0, 1): every corrupted pixel is visibly changed.
    return np.random.default_rng(0).uniform(0.2, 0.8, size=N).astype(np.float32)


@pytest.mark.parametrize("p", [0.0, 0.05, 0.3, 1.0])
def test_salt_and_pepper_fraction_and_half_half(x_interior, p):
    y = salt_and_pepper(x_interior, p, rng=1)
    zeros, ones = np.mean(y == 0), np.mean(y == 1)
    assert abs((zeros + ones) - p) <= tol(p) + 1e-12, (zeros + ones, p)
    assert abs(zeros - p / 2) <= tol(p / 2) + 1e-12
    assert abs(ones - p / 2) <= tol(p / 2) + 1e-12
    untouched = (y != 0) & (y != 1)
    np.testing.assert_array_equal(y[untouched], x_interior[untouched])


@pytest.mark.parametrize("p", [0.0, 0.1, 0.25, 1.0])
def test_bit_flip_fraction(p):
    x = (np.random.default_rng(2).random(N) < 0.4).astype(np.float32)
    y = bit_flip(x, p, rng=3)
    assert set(np.unique(y)) <= {0.0, 1.0}
    flipped = np.mean(y != x)
    assert abs(flipped - p) <= tol(p) + 1e-12, (flipped, p)
    np.testing.assert_array_equal(y[y != x], 1 - x[y != x])


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_masking_fraction(x_interior, p):
    y = masking(x_interior, p, rng=4)
    assert abs(np.mean(y == 0) - p) <= tol(p)
    np.testing.assert_array_equal(y[y != 0], x_interior[y != 0])


def test_gaussian_moments_and_clip():
    x = np.full(N, 0.5)
    y = gaussian(x, 0.1, rng=5, clip=False)
    d = y - x
    assert abs(d.mean()) < 5 * 0.1 / np.sqrt(N)
    assert abs(d.std() - 0.1) < 5 * 0.1 / np.sqrt(2 * N)
    y2 = gaussian(x, 1.0, rng=5, clip=True)
    assert y2.min() == 0.0 and y2.max() == 1.0
    assert gaussian(x, 0.0, rng=5).tolist() == x.tolist()


@pytest.mark.parametrize("name", sorted(noise.NOISES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shape_dtype_seed_and_no_mutation(name, dtype):
    x = np.random.default_rng(6).random((7, 5, 3)).astype(dtype)
    x0 = x.copy()
    f = get_noise(name)
    a, b, c = f(x, 0.3, 11), f(x, 0.3, 11), f(x, 0.3, 12)
    assert a.shape == x.shape and a.dtype == dtype
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(x, x0)
    # A shared Generator advances: two calls give different noise.
    g = np.random.default_rng(0)
    assert not np.array_equal(f(x, 0.3, g), f(x, 0.3, g))


def test_integer_input_becomes_float():
    y = bit_flip(np.ones((3, 3), dtype=np.int64), 1.0, rng=0)
    assert y.dtype == np.float32 and np.all(y == 0)


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError) as e:
        get_noise("speckle")
    for name in noise.NOISES:
        assert name in str(e.value)
    assert get_noise(masking) is masking


@pytest.mark.parametrize("f", [salt_and_pepper, bit_flip, masking])
@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_bad_probability(f, p):
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        f(np.zeros(3), p, 0)


@pytest.mark.parametrize("sigma", [-1.0, float("inf")])
def test_bad_sigma(sigma):
    with pytest.raises(ValueError, match="sigma"):
        gaussian(np.zeros(3), sigma, 0)
    with pytest.raises(TypeError, match="sigma"):
        gaussian(np.zeros(3), "0.1", 0)
