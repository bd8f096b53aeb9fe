"""Shared pytest configuration."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def pytest_terminal_summary(terminalreporter):
    """Print the site's measured budgets (tests/test_site_layout.py), passing or not."""
    import sys

    module = sys.modules.get("test_site_layout")
    if module is not None and module.MEASURED:
        terminalreporter.section("site budgets (1280 x 900, chromium)")
        for name, value in module.MEASURED.items():
            terminalreporter.write_line(f"{name}: {value}")
