"""Shared figure style and the helpers that make figures work on the static site."""
from __future__ import annotations

import re
from html import escape

import matplotlib
import matplotlib.pyplot as plt

__all__ = ["use_book_style", "COLORS", "animation_html"]

#: Colours used for the same roles across chapters (colour-blind safe, Okabe-Ito).
COLORS = {
    "train": "#0072B2",
    "test": "#D55E00",
    "val": "#009E73",
    "analytic": "#000000",
    "empirical": "#E69F00",
    "regularized": "#CC79A7",
    "unregularized": "#56B4E9",
}


def use_book_style() -> None:
    """Apply the book's matplotlib style (PNG output, readable sizes, no top/right spines).

    Call once per chapter, after the imports. PNG matters: nbval skips PNG outputs but
    would compare SVG text.
    """
    matplotlib.rcParams.update(
        {
            "figure.figsize": (6.4, 4.0),
            "figure.dpi": 80,
            "savefig.dpi": 80,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "font.size": 11,
            "legend.frameon": False,
            "animation.embed_limit": 20.0,
            "svg.hashsalt": "reglab",
        }
    )
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except ImportError:  # outside IPython
        pass


def animation_html(anim, *, default_mode: str = "once", alt: str = "An animated figure; use the buttons below it to play, pause and step through the frames."):
    """An animation as self-contained HTML (frames embedded), so it plays on the static site.

    matplotlib's player links a Font Awesome stylesheet from a third-party host; that link is
    removed (the site's theme provides the icons) and the frame image gets ``alt`` text.

    Parameters
    ----------
    anim : matplotlib.animation.Animation
    default_mode : str
        ``"once"``, ``"loop"`` or ``"reflect"``.
    alt : str
        Alternative text of the frames for screen readers.

    Returns
    -------
    IPython.display.HTML
    """
    from IPython.display import HTML
    from matplotlib.animation import Animation

    if not isinstance(anim, Animation):
        raise TypeError(f"anim must be a matplotlib.animation.Animation, but got {type(anim).__name__}")
    if default_mode not in ("once", "loop", "reflect"):
        raise ValueError(f"default_mode must be one of 'once', 'loop', 'reflect', but got {default_mode!r}")
    if not isinstance(alt, str) or not alt.strip():
        raise ValueError(f"alt must be a non-empty description of the animation, but got {alt!r}")
    html = anim.to_jshtml(default_mode=default_mode)
    html = re.sub(r'<link rel="stylesheet"[^>]*font-awesome[^>]*>', "", html)
    html = html.replace("<img ", f'<img alt="{escape(alt, quote=True)}" ', 1)
    html = html.replace('<input type="range"', '<input type="range" aria-label="Animation frame"', 1)
    plt.close(anim._fig)
    return HTML(html)
