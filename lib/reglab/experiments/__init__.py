"""The book's experiments: multi-seed training runs, one module per chapter.

Each module holds its chapter's experiments, each in one place: its registration (the claim and
the direction it expects, ``experiment(...)``), its run configuration (a small dataclass), the
multi-seed run and the per-seed effect that the chapter records with :func:`reglab.book.record`.
Importing the package imports every chapter module, so that each registers its experiments.
Imports go one way: experiments may use the derivations, never the reverse.
"""
from . import (  # noqa: F401 (imported so that each registers its experiments)
    adversarial_training,
    augmentation,
    bagging,
    dropout,
    early_stopping,
    l1_penalty,
    label_smoothing,
    multitask,
    parameter_sharing,
    regimes,
    sparse_representations,
    weight_decay,
    weight_noise,
)
