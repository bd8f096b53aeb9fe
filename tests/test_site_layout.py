"""The site as a reader sees it at 1280 x 900 in chromium: measured, with the budget beside it.

Every page of the built site is measured in the one pass over the pages (tests/conftest.py:
site_pass), in light mode and, for the accessibility check, in dark mode:

* raw Markdown in rendered text (``| --- |`` table rows, ``**bold**``, ``$$``): budget 0;
* tables and figures that run past the article's right edge, or sit in a box that scrolls them
  out of sight: budget 0;
* code and output blocks that scroll sideways: budget at most 5 % of all blocks;
* figures shown below 75 % of their natural size (their text falls under ~9 px): budget 0;
* axe-core violations of impact "critical" or "serious", in light and in dark mode: budget 0.

Each figure is printed in the test summary ("site budgets") whether it passes or not.
"""

from __future__ import annotations

import pytest
from conftest import LAYOUT_FIGURE_SCALE, MEASURED

pytestmark = [pytest.mark.site, pytest.mark.browser]

SCROLL_BUDGET = 0.05


@pytest.fixture(scope="module")
def measurements(site_pass):
    """The 1280 px measurements of every page a reader reads (not the forwarding index.html)."""
    return {
        p: {**m["layout"], "axe light": m["axe light"], "axe dark": m["axe dark"]}
        for p, m in site_pass.items()
        if m["reader"]
    }


def test_no_raw_markdown_in_rendered_text(measurements):
    raw = {p: m["rawText"] for p, m in measurements.items() if m["rawText"]}
    MEASURED["raw Markdown blocks"] = f"{sum(map(len, raw.values()))} (budget 0)"
    assert not raw, f"raw Markdown in rendered text: {raw}"


def test_no_table_or_figure_past_the_article_edge(measurements):
    clipped = {p: m["clipped"] for p, m in measurements.items() if m["clipped"]}
    MEASURED["tables/figures past the article edge"] = f"{sum(map(len, clipped.values()))} (budget 0)"
    assert not clipped, f"clipped: {clipped}"


def test_few_code_and_output_blocks_scroll_sideways(measurements):
    total = sum(m["blocks"] for m in measurements.values())
    scrolling = {p: m["scrolling"] for p, m in measurements.items() if m["scrolling"]}
    n = sum(map(len, scrolling.values()))
    share = n / total if total else 0.0
    MEASURED["code/output blocks scrolling sideways"] = (
        f"{n} of {total} = {100 * share:.1f} % (budget {100 * SCROLL_BUDGET:.0f} %)"
    )
    assert share <= SCROLL_BUDGET, f"{n} of {total} blocks scroll sideways: {scrolling}"


def test_figures_shown_at_readable_size(measurements):
    small = {p: m["small"] for p, m in measurements.items() if m["small"]}
    MEASURED[f"figures below {100 * LAYOUT_FIGURE_SCALE:.0f} % of natural size"] = (
        f"{sum(map(len, small.values()))} (budget 0)"
    )
    assert not small, f"figures shown too small: {small}"


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_no_serious_accessibility_violations(measurements, mode):
    found = {p: m[f"axe {mode}"] for p, m in measurements.items() if m[f"axe {mode}"]}
    MEASURED[f"axe critical+serious violations ({mode})"] = f"{sum(map(len, found.values()))} (budget 0)"
    assert not found, f"axe-core, {mode} mode: {found}"
