"""Shared figure style and the helpers that make figures work on the static site."""
from __future__ import annotations

import re
from html import escape

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor

from ._validation import check_int, check_tensor

__all__ = ["use_book_style", "COLORS", "animation_html", "draw_product", "sparsity_illustration"]

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


# ---- the lecture's two pictures of sparsity (chapter sparse_representations) ------------------



def sparsity_illustration(*, rows: int = 5, cols: int = 6, nonzeros: int = 2, seed: int = 5) -> dict:
    """Small integer examples of y = A x with A sparse, and y = B h with h sparse.

    Returns
    -------
    dict
        ``parameter``: (y, A, x) with about two thirds of A's entries zero and x dense;
        ``representation``: (y, B, h) with B dense and only ``nonzeros`` entries of h non-zero.
        Integer-valued float64 tensors, so every product can be checked by eye.

    Examples
    --------
    >>> y, B, h = sparsity_illustration()["representation"]
    >>> int((h != 0).sum()), bool((B @ h == y).all())
    (2, True)
    """
    rows, cols = check_int("rows", rows, low=1), check_int("cols", cols, low=1)
    nonzeros = check_int("nonzeros", nonzeros, low=1, high=cols)
    g = torch.Generator().manual_seed(check_int("seed", seed, low=0))

    def ints(*shape):
        v = torch.randint(1, 6, shape, generator=g).to(torch.float64)
        return v * (2 * torch.randint(0, 2, shape, generator=g) - 1)

    A = torch.where(torch.rand(rows, cols, generator=g) < 1 / 3, ints(rows, cols), 0.0)  # +0, never -0
    x = ints(cols)
    B = ints(rows, cols)
    h = torch.zeros(cols, dtype=torch.float64)
    support = torch.randperm(cols, generator=g)[:nonzeros]
    h[support] = ints(nonzeros)
    return {"parameter": (A @ x, A, x), "representation": (B @ h, B, h)}


def _draw_matrix(ax, M: np.ndarray, x0: float, cmap, vmax: float) -> float:
    M = np.atleast_2d(M)
    r, c = M.shape
    for i in range(r):
        for j in range(c):
            v = M[i, j]
            color = "white" if v == 0 else cmap(0.5 + 0.5 * max(-1.0, min(1.0, v / vmax)))
            ax.add_patch(_rect((x0 + j, r - 1 - i), color))
            ax.text(x0 + j + 0.5, r - 1 - i + 0.5, f"{v:g}", ha="center", va="center", fontsize=9,
                    color="0.7" if v == 0 else "black")
    return x0 + c


def _rect(xy, color):
    from matplotlib.patches import Rectangle

    return Rectangle(xy, 1, 1, facecolor=color, edgecolor="0.4", linewidth=0.8)


def draw_product(ax, y: Tensor, M: Tensor, v: Tensor, *, title: str = "") -> None:
    """Draw ``y = M v`` as coloured grids, zeros left white (the lecture's illustration).

    Parameters
    ----------
    ax : matplotlib Axes
    y : Tensor of shape (r,)
    M : Tensor of shape (r, c)
    v : Tensor of shape (c,)
    title : str
    """
    import matplotlib.pyplot as plt

    check_tensor("M", M, ndim=2)
    if y.shape != (M.shape[0],) or v.shape != (M.shape[1],):
        raise ValueError(
            f"y and v must have shapes ({M.shape[0]},) and ({M.shape[1]},), "
            f"but got {tuple(y.shape)} and {tuple(v.shape)}"
        )
    cmap = plt.get_cmap("RdBu_r")
    vmax = float(max(M.abs().max(), v.abs().max(), 1.0))  # colours of y saturate beyond it
    r = M.shape[0]
    x0 = _draw_matrix(ax, y.numpy().reshape(-1, 1), 0.0, cmap, vmax)
    ax.text(x0 + 0.5, r / 2, "=", ha="center", va="center", fontsize=16)
    x0 = _draw_matrix(ax, M.numpy(), x0 + 1.0, cmap, vmax)
    ax.text(x0 + 0.5, r / 2, "×", ha="center", va="center", fontsize=14)
    top = r / 2 + v.shape[0] / 2
    vv = v.numpy()
    for i, val in enumerate(vv):
        color = "white" if val == 0 else cmap(0.5 + 0.5 * val / vmax)
        ax.add_patch(_rect((x0 + 1.0, top - 1 - i), color))
        ax.text(x0 + 1.5, top - 1 - i + 0.5, f"{val:g}", ha="center", va="center", fontsize=9,
                color="0.7" if val == 0 else "black")
    ax.set_xlim(-0.2, x0 + 2.2)
    ax.set_ylim(min(0.0, top - v.shape[0]) - 0.2, max(r, top) + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
