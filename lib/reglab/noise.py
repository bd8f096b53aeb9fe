"""Noise injection: inputs, weights and labels (lecture: "Noise robustness", "Label smoothing")."""
from __future__ import annotations

__all__: list[str] = []
