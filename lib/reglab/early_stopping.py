"""Early stopping with patience (lecture: "Early stopping")."""
from __future__ import annotations

__all__: list[str] = []
