"""latent_scatter writes every label beside its own point without covering the other labels or, where
there is room, the other points' thumbnails."""
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.offsetbox import AnnotationBbox

from nnlite import plots


def _boxes(fig):
    renderer = FigureCanvasAgg(fig).get_renderer()
    ax = fig.axes[0]
    labels = [t for t in ax.texts if t.get_text()]
    thumbs = [a for a in ax.artists if isinstance(a, AnnotationBbox)]
    return ([t.get_window_extent(renderer) for t in labels], [a.get_window_extent(renderer) for a in thumbs],
            labels)


def _overlap(a, b):
    return max(min(a.x1, b.x1) - max(a.x0, b.x0), 0) * max(min(a.y1, b.y1) - max(a.y0, b.y0), 0)


def test_labels_do_not_cover_each_other_or_other_thumbnails():
    rng = np.random.default_rng(0)
    Z = np.concatenate([rng.normal(0, 8, (20, 2)), rng.normal(30, 2, (4, 2))])   # a spread and a tight cluster
    images = rng.uniform(0, 1, (len(Z), 7, 5))
    fig = plots.latent_scatter(Z, labels=[chr(97 + i) for i in range(len(Z))], images=images)
    labels, thumbs, texts = _boxes(fig)
    assert [t.get_text() for t in texts] == [chr(97 + i) for i in range(len(Z))]
    for i, a in enumerate(labels):
        assert all(_overlap(a, b) == 0 for b in labels[i + 1:]), texts[i].get_text()
    covered = sum(_overlap(a, b) > 0 for i, a in enumerate(labels) for j, b in enumerate(thumbs) if i != j)
    assert covered <= 2, f"{covered} labels cover another point's thumbnail"
    for text, box, thumb in zip(texts, labels, thumbs):      # each beside its own point
        cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
        tx, ty = (thumb.x0 + thumb.x1) / 2, (thumb.y0 + thumb.y1) / 2
        assert np.hypot(cx - tx, cy - ty) < 2.5 * max(thumb.width, thumb.height), text.get_text()


def test_labels_without_images():
    Z = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]])
    fig = plots.latent_scatter(Z, labels=["x", "y", "z"])
    labels, _, _ = _boxes(fig)
    assert len(labels) == 3 and _overlap(labels[0], labels[1]) == 0
