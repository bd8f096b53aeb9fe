"""Bootstrap resampling and bagged ensembles (lecture: "Bagging")."""
from __future__ import annotations

__all__: list[str] = []
