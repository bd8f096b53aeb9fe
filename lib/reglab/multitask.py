"""Multitask learning: shared trunks, task heads and soft parameter sharing."""
from __future__ import annotations

__all__: list[str] = []
