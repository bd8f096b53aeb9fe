"""The book's experiments: multi-seed training runs, one module per chapter.

Each module holds its chapter's run configurations (small dataclasses), the training runs that
use them and the records of what they measured. Results are registered, with the direction they
expect, in :mod:`reglab.derivations` (``experiment(...)``); a chapter records what it measured
with :func:`reglab.derivations.core.record_outcome`. Imports go one way: experiments may use the
derivations, never the reverse.
"""
