"""The hand-drawn bitmaps: shapes, values, a few known glyphs, and the parser's error messages."""
import numpy as np
import pytest

from nnlite.data.bitmaps import load_emoji12, load_font5x7, read_bitmap_file


def glyph(rows):
    return np.array([[1.0 if c == "#" else 0.0 for c in r] for r in rows.split()])


def test_font_shape_and_order():
    X, chars = load_font5x7()
    assert X.shape == (32, 35) and X.dtype == np.float32
    assert set(np.unique(X)) == {0.0, 1.0}
    assert chars == ["`"] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["{", "|", "}", "~", "\u2588"]
    images, _ = load_font5x7(flatten=False, dtype=np.float64)
    assert images.shape == (32, 7, 5) and images.dtype == np.float64
    np.testing.assert_array_equal(images.reshape(32, -1), X)


def test_font_known_glyphs():
    images, chars = load_font5x7(flatten=False)
    g = dict(zip(chars, images))
    np.testing.assert_array_equal(g["a"], glyph(".....  .....  .###.  ....#  .####  #...#  .####"))
    np.testing.assert_array_equal(g["x"], glyph(".....  .....  #...#  .#.#.  ..#..  .#.#.  #...#"))
    np.testing.assert_array_equal(g["|"], glyph("..#.. " * 7))
    assert g["\u2588"].sum() == 35
    # Row-major flattening: pixel (r, c) is column r*5 + c. 'b' has ink down its left column.
    X, _ = load_font5x7()
    assert all(X[2, r * 5] == 1 for r in range(7))


def test_font_glyphs_distinct():
    X, _ = load_font5x7()
    d = (X[:, None, :] != X[None, :, :]).sum(-1)
    np.fill_diagonal(d, 99)
    assert d.min() >= 2  # c/o and h/n are the closest pairs


def test_emoji_shape_values_names():
    E, names = load_emoji12()
    assert E.shape[0] >= 24 and E.shape[1] == 144 and E.dtype == np.float32
    assert set(np.unique(E)) <= {0.0, 0.5, 1.0} and 0.5 in E
    assert len(names) == len(set(names)) == len(E)
    for needed in ["smile", "frown", "wink", "surprise", "heart", "star", "sun", "moon"]:
        assert needed in names
    assert len({e.tobytes() for e in E}) == len(E)
    images, _ = load_emoji12(flatten=False)
    heart = images[names.index("heart")]
    assert heart.shape == (12, 12)
    assert heart[0].sum() == 0 and heart[10, 5] == heart[10, 6] == 1 and heart[10, 4] == 0


def test_parser_errors_name_the_problem():
    with pytest.raises(ValueError, match="row 'ab' of 'x'"):
        read_bitmap_file("glyph x\nab\n", "glyph", 1, 2, source="t")
    with pytest.raises(ValueError, match="has 1 rows, expected 2"):
        read_bitmap_file("glyph x\n#.\n", "glyph", 2, 2, source="t")
    with pytest.raises(ValueError, match="before the first"):
        read_bitmap_file("#.\n", "glyph", 1, 2, source="t")
    headers, maps = read_bitmap_file("; c\nemoji a\n#+\n\nemoji b\n..\n", "emoji", 1, 2)
    assert headers == ["a", "b"] and maps[0].tolist() == [[1.0, 0.5]]
