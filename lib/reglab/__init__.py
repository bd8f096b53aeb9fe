"""reglab: regularizers for deep networks, and checks of the mathematics behind them.

The companion library of the executable book *Regularization in Deep Neural Networks*.
Regularizers live in modules named after their mechanism (:mod:`reglab.penalties`,
:mod:`reglab.dropout`, ...); closed forms and derivation checkers live in
``reglab.derivations``, one module per chapter. Nothing happens on import: a chapter calls
:func:`seed_everything` itself.

Every public name of every module is re-exported here. Where a function shares its module's
name (``reglab.dropout``), the package attribute is the function; import the module itself
with ``import reglab.dropout`` or ``from reglab.dropout import ...``.
"""
import sys as _sys

from .adversarial import *  # noqa: F401,F403
from .augment import *  # noqa: F401,F403
from .augment_images import *  # noqa: F401,F403
from .curvature import *  # noqa: F401,F403
from .data import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .early_stopping import *  # noqa: F401,F403
from .ensembles import *  # noqa: F401,F403
from .exercises import *  # noqa: F401,F403
from .labels import *  # noqa: F401,F403
from .multitask import *  # noqa: F401,F403
from .noise import *  # noqa: F401,F403
from .penalties import *  # noqa: F401,F403
from .plotting import *  # noqa: F401,F403
from .runs import *  # noqa: F401,F403
from .solvers import *  # noqa: F401,F403
from .sparse_coding import *  # noqa: F401,F403
from .stacked import *  # noqa: F401,F403
from .stats import *  # noqa: F401,F403
from .symbolic import *  # noqa: F401,F403
from .training import *  # noqa: F401,F403

__version__ = "0.1.0"

_MODULES = (
    "adversarial",
    "augment",
    "augment_images",
    "curvature",
    "data",
    "dropout",
    "early_stopping",
    "ensembles",
    "exercises",
    "labels",
    "multitask",
    "noise",
    "penalties",
    "plotting",
    "runs",
    "solvers",
    "sparse_coding",
    "stacked",
    "stats",
    "symbolic",
    "training",
)
# The ledger's results are registered by the chapter modules of both wings.
from . import derivations, experiments  # noqa: E402,F401

# A module that was split keeps re-exporting the names it held (``reglab.training.StackedMLP`` is
# ``reglab.stacked.StackedMLP``): each name is listed once, from the first module that declares it.
__all__ = list(dict.fromkeys(name for _m in _MODULES for name in _sys.modules[f"{__name__}.{_m}"].__all__))
