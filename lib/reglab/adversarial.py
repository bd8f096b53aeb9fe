"""Adversarial examples and adversarial training (lecture: "Adversarial training")."""
from __future__ import annotations

__all__: list[str] = []
