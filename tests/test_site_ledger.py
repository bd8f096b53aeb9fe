"""The results ledger and the errata as a reader revising from them sees them, in chromium.

BOOK_SPEC 13: grouped by chapter, claims typeset, one row per result with its checks folded,
IDs and verdicts never broken across lines, no page that scrolls sideways on a phone. Measured
at 1280 x 900 and 390 x 844 on the built site (`make book` first), in the one pass over the
site (tests/conftest.py: site_pass, LEDGER).

The ledger's height at 1280 px was 22,759 px when it had one row per check (77 rows, two of its
columns wrapping to a few letters); with a row per result it is about a third of that.
"""
from __future__ import annotations

import pytest
from conftest import HTML, LEDGER_PAGES

pytestmark = [pytest.mark.site, pytest.mark.browser]

PAGES = list(LEDGER_PAGES)
SIZES = {"laptop": (1280, 900), "phone": (390, 844)}  # conftest's LAPTOP and PHONE
LEDGER_MAX_HEIGHT = 12_000  # px at 1280: a row per result, the checks folded

@pytest.fixture(scope="module")
def measured(site_pass):
    """{(page, size): LEDGER measured on the page}, from the one pass over the site (conftest)."""
    if not all((HTML / p).exists() for p in PAGES):
        pytest.fail("the ledger or errata page is not built: run `make book` first")
    return {(p, s): site_pass[p]["ledger"][s] for p in PAGES for s in SIZES}


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("page_path", PAGES)
def test_no_id_verdict_or_interval_is_broken_across_lines(measured, page_path, size):
    got = measured[(page_path, size)]
    assert got["ids"], f"{page_path}: no result ID marked as one (class reglab-id)"
    assert not got["broken"], f"{page_path} at {size} width breaks across lines: {got['broken'][:5]}"


@pytest.mark.parametrize("page_path", PAGES)
def test_no_table_runs_past_the_column_and_no_page_scrolls_sideways_on_a_phone(measured, page_path):
    for size in SIZES:
        got = measured[(page_path, size)]
        assert not got["wide"], f"{page_path} at {size} width: tables past the column: {got['wide']}"
    phone = measured[(page_path, "phone")]
    assert phone["pageWidth"] <= phone["viewport"], (
        f"{page_path} scrolls sideways on a phone: {phone['pageWidth']} px in a {phone['viewport']} px window")


def test_the_ledger_is_a_row_per_result_grouped_by_chapter_and_short(measured):
    import reglab  # noqa: F401  (registers every result)
    from reglab.derivations import ledger

    got = measured[("book/appendix/ledger.html", "laptop")]
    results = ledger()
    assert sorted(got["ids"]) == sorted(r.id for r in results), "each result once, and only results"
    assert got["folds"] == sum(r.kind == "derivation" for r in results), "one fold of checks per derivation"
    assert len(got["sections"]) == len({r.chapter for r in results}), f"a section per chapter: {got['sections']}"
    assert got["math"] >= 30 and got["rawTex"] == 0, "claims typeset, no TeX left as text"
    print(f"ledger height at 1280 px: {got['height']} px (budget {LEDGER_MAX_HEIGHT}, before: 22,759)")
    assert got["height"] <= LEDGER_MAX_HEIGHT, f"the ledger is {got['height']} px tall at 1280 px"
