"""The book's figure helpers."""
import gc
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402

from reglab.plotting import COLORS, animation_html, use_book_style  # noqa: E402


def _animation():
    fig, ax = plt.subplots()
    (line,) = ax.plot([0, 1], [0, 1])
    return FuncAnimation(fig, lambda i: (line.set_ydata([0, i]), (line,))[1], frames=3)


def test_animation_is_self_contained_html():
    html = animation_html(_animation()).data
    assert "data:image/png;base64" in html and "<script" in html


def test_invalid_animation_mode_rejected():
    anim = _animation()
    with pytest.raises(ValueError, match="default_mode must be one of"):
        animation_html(anim, default_mode="bounce")
    # Rejected before it was drawn: matplotlib would warn when it is collected, so collect it here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        plt.close("all")
        del anim
        gc.collect()


def test_book_style_uses_png_sized_figures():
    use_book_style()
    assert matplotlib.rcParams["figure.dpi"] == 80
    assert set(COLORS) >= {"train", "test", "analytic", "empirical"}
