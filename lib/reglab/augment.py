"""Dataset augmentation for MNIST-1D and 8x8 digits (lecture: "Dataset augmentation")."""
from __future__ import annotations

__all__: list[str] = []
