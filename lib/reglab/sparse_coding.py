"""Sparse representations: activation penalties and orthogonal matching pursuit."""
from __future__ import annotations

__all__: list[str] = []
