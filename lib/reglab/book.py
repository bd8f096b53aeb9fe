"""The chapter page: show a check, record an outcome, glue numbers into the prose.

Everything a chapter notebook does that is page plumbing rather than teaching lives here, once:

* :func:`show` prints a check (or any text) wrapped to the page, one part per line.
* :func:`show_checks` runs the checks of a result, prints each, and runs every planted error,
  each of which must be rejected; ``source=True`` folds the checker's code under its output.
* :func:`record` records an experiment's measured outcome (effect, interval, verdict).
* :func:`glue` and :func:`glue_many` paste computed numbers into the prose. They use MyST-NB
  where it is installed (the book's build); elsewhere (Colab, a plain Jupyter) they keep the
  value in :data:`GLUED`, so a chapter runs with nothing but ``reglab`` installed. A number is
  stored at a stated number of significant digits (4 unless asked), never as a float's full
  repr, whose last digits change from one CPU to the next.
* The appendix pages (the results ledger, the errata) are rendered by ``reglab.appendix``;
  its functions are re-exported here.
"""
from __future__ import annotations

import inspect
import json
import math
import textwrap

import numpy as np
import torch

from .appendix import chapters_in_order, errata_markdown, ledger_markdown, run_ledger, run_planted
from .derivations import get_result
from .derivations.compare import CheckFailed
from .derivations.registry import Outcome, Result, outcome_from

__all__ = [
    "GLUED",
    "Shown",
    "chapters_in_order",
    "errata_markdown",
    "glue",
    "glue_many",
    "ledger_markdown",
    "record",
    "run_ledger",
    "run_planted",
    "show",
    "show_checks",
]

#: Values glued where MyST-NB is not installed, by name (the last value glued under each name).
GLUED: dict[str, object] = {}

WIDTH = 80


def show(item, width: int = WIDTH) -> None:
    """Print a check, an outcome or any text at most ``width`` characters wide.

    A check's parts (separated by a bar between spaces) go on lines of their own; "95 %" is never broken.

    >>> show("WD-1: agree | closed form: 1.5 | autograd: 1.5")
    WD-1: agree
        closed form: 1.5
        autograd: 1.5
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 20:
        raise ValueError(f"width must be an integer of at least 20, but got {width!r}")
    text = str(item).replace(" | ", "\n    ").replace(" %", "\u00a0%")
    for line in text.splitlines():
        print(textwrap.fill(line, width, subsequent_indent="      ", break_on_hyphens=False))


def _parts(result: Result, labels: tuple[str, ...]):
    if result.kind != "derivation":
        raise ValueError(f"{result.id} is an experiment; it has no checks to show")
    known = [p.label for p in result.parts]
    unknown = [label for label in labels if label not in known]
    if unknown:
        raise ValueError(f"{result.id} has no check labelled {unknown[0]!r}; its checks are {known}")
    return [p for p in result.parts if not labels or p.label in labels]


def _source(fn) -> str:
    from IPython.display import display

    code = textwrap.dedent(inspect.getsource(fn))
    escaped = code.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    html = (f'<details class="reglab-source"><summary>The second computation: source of '
            f"<code>{fn.__name__}</code></summary><pre>{escaped}</pre></details>")
    display({"text/html": html, "text/plain": f"(source of {fn.__name__}, folded)"}, raw=True)
    return code


class Shown(tuple):
    """The checks :func:`show_checks` printed: a tuple that a notebook does not display again.

    A cell that ends with ``show_checks(...)`` shows the printed checks only, not their repr
    (IPython calls ``_ipython_display_`` instead of printing the value).
    """

    def _ipython_display_(self) -> None:
        return None


def show_checks(result_id: str, *labels: str, source: bool = False) -> Shown:
    """Run the checks of a result (all, or those with the given labels) and print each.

    Each check must pass (else :class:`~reglab.derivations.compare.CheckFailed`, with both
    numbers); after each, every planted error it declares is run and must be rejected (else
    ``CheckFailed`` naming it).

    Parameters
    ----------
    result_id : str
        The result's ID, e.g. ``"WD-3"``.
    *labels : str
        Only the checks with these labels (all of them if none is given).
    source : bool
        Also show each checker's code, folded under its output.

    Returns
    -------
    Shown
        The checks (a tuple of :class:`~reglab.derivations.compare.Check`).
    """
    result = get_result(result_id)
    checks = []
    for part in _parts(result, labels):
        check = part.run(result.id).assert_passed()
        checks.append(check)
        show(check)
        if source:
            _source(part.checker)
        for planted in part.planted:
            made = part.run(result.id, planted.name)
            if made.passed:
                raise CheckFailed(f"{result.id}: the planted error {planted.name!r} is not rejected:\n{made}")
            show(f"  planted error {planted.name!r}: rejected")
    return Shown(checks)


def _stored(name: str, value, digits: int):
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"glue {name!r}: a tensor must hold one number, but got shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if math.isfinite(value) else value
    raise TypeError(f"glue {name!r}: the value must be a number or a string, but got {type(value).__name__}")


def glue(name: str, value, *, digits: int = 4) -> None:
    """Keep ``value`` under ``name`` for the prose (``{glue:text}`name:.2f```).

    A float (or a one-number tensor or NumPy scalar) is stored rounded to ``digits`` significant
    digits: what survives another CPU. Uses MyST-NB's glue where MyST-NB is installed; elsewhere
    the value is kept in :data:`GLUED`. Returns nothing, so that a cell ending with a glue call
    shows nothing more.

    >>> glue("example_gap", 2.4105791970520047)
    >>> GLUED["example_gap"]
    2.411
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, but got {name!r}")
    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 15:
        raise ValueError(f"digits must be an integer from 1 to 15, but got {digits!r}")
    stored = _stored(name, value, digits)
    GLUED[name] = stored
    if not _building_the_book():  # Colab, a plain Jupyter: the value stays in GLUED
        return None
    _PENDING.append((name, stored))
    ip = _ipython()
    if ip is None:  # not in a kernel (a script, the tests): glue now
        _flush()
    elif not _PENDING[:-1]:  # the first glue of this cell: glue them all when the cell ends
        ip.events.register("post_run_cell", _flush_after_cell)
    return None


# Glued values wait for the end of their cell: MyST-NB stores each as a (hidden) display output,
# which would otherwise cut the cell's printed text into several boxes on the page.
_PENDING: list[tuple[str, object]] = []


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    ip = get_ipython()
    return ip if ip is not None and hasattr(ip, "events") else None


def _building_the_book() -> bool:
    """Is the book's build stack (MyST-NB, which reads glued values) installed here?"""
    import importlib.util

    return importlib.util.find_spec("myst_nb") is not None


# MyST-NB's glue record: a display output whose MIME types carry this prefix, with the name in
# its metadata. Written here as ``myst_nb.glue(name, value, display=False)`` writes it, without
# importing MyST-NB (and with it Sphinx and nbformat: two seconds a kernel).
GLUE_PREFIX = "application/papermill.record/"


def _flush() -> None:
    from IPython.core.formatters import format_display_data
    from IPython.display import display

    while _PENDING:
        name, stored = _PENDING.pop(0)
        bundle, metadata = format_display_data(stored)
        metadata["scrapbook"] = {"name": name, "mime_prefix": GLUE_PREFIX}
        display({GLUE_PREFIX + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)


def _flush_after_cell(result=None) -> None:
    ip = _ipython()
    if ip is not None:
        ip.events.unregister("post_run_cell", _flush_after_cell)
    _flush()


def glue_many(prefix: str, *, digits: int = 4, **values) -> None:
    """Glue several values at once: ``glue_many("do", gain=1.2)`` glues ``do_gain``.

    >>> glue_many("example", seeds=5, gain=0.123456)
    >>> GLUED["example_seeds"], GLUED["example_gain"]
    (5, 0.1235)
    """
    if not isinstance(prefix, str) or not prefix:
        raise ValueError(f"prefix must be a non-empty string, but got {prefix!r}")
    for k, v in values.items():
        glue(f"{prefix}_{k}", v, digits=digits)


def record(result_id: str, per_seed=None, *, effect=None, low=None, high=None, seeds=None,
           width: int = WIDTH) -> Outcome:
    """Record experiment ``result_id``'s measured outcome in its chapter, and print it.

    Give ``per_seed`` (one effect per seed: mean and 95 % Student-t interval are computed) or
    ``effect``, ``low``, ``high`` and ``seeds``. Glues ``"<id>:effect"``, ``":low"``, ``":high"``,
    ``":seeds"``, ``":verdict"`` for the prose, and ``"<id>:outcome"``, the record that
    :meth:`~reglab.derivations.registry.Result.outcome` reads back from the stored notebook.
    """
    outcome = outcome_from(result_id, per_seed=per_seed, effect=effect, low=low, high=high, seeds=seeds)
    glue(f"{result_id}:outcome", json.dumps(outcome.as_dict(), sort_keys=True))
    for key in ("effect", "low", "high"):
        glue(f"{result_id}:{key}", getattr(outcome, key))
    glue(f"{result_id}:seeds", outcome.seeds)
    glue(f"{result_id}:verdict", outcome.verdict)
    show(outcome.text(width), width)
    return outcome
