"""Dropout with the lecture's keep probability (lecture: "Dropout")."""
from __future__ import annotations

__all__: list[str] = []
