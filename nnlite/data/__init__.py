from .bitmaps import load_emoji12, load_font5x7  # noqa: F401  (issue 3: the hand-drawn bitmaps)
