"""Every result of the lecture is registered, and every derivation check passes."""
import re

import pytest
import yaml

from reglab.derivations import ledger

from conftest import ROOT

# The result IDs of BOOK_SPEC section 4: a chapter may add results, never drop one.
REQUIRED = {
    "regimes": ["REG-1", "REG-2"],
    "weight_decay": ["WD-1", "WD-2", "WD-3", "WD-4", "WD-5", "WD-6"],
    "l1_penalty": ["L1-1", "L1-2", "L1-3", "L1-4", "L1-5"],
    "early_stopping": ["ES-1", "ES-2", "ES-3"],
    "bagging": ["BAG-1", "BAG-2", "BAG-3", "BAG-4"],
    "dropout": ["DO-1", "DO-2", "DO-3", "DO-4", "DO-5", "DO-6", "DO-7", "DO-8"],
    "augmentation": ["AUG-1", "AUG-2", "AUG-3"],
    "weight_noise": ["WN-1", "WN-2", "WN-3"],
    "label_smoothing": ["LS-1", "LS-2", "LS-3", "LS-4"],
    "multitask": ["MT-1", "MT-2"],
    "parameter_sharing": ["PS-1", "PS-2", "PS-3"],
    "sparse_representations": ["SP-1", "SP-2", "SP-3"],
    "adversarial_training": ["ADV-1", "ADV-2", "ADV-3", "ADV-4"],
}
RESULTS = ledger()
DERIVATIONS = [r for r in RESULTS if r.kind == "derivation"]


@pytest.mark.parametrize("chapter", sorted(REQUIRED))
def test_every_required_result_is_registered_in_its_chapter(chapter):
    registered = {r.id: r.chapter for r in RESULTS}
    for rid in REQUIRED[chapter]:
        assert rid in registered, f"{rid} is not registered (reglab.derivations.{chapter})"
        assert registered[rid] == chapter, f"{rid} is registered under {registered[rid]}, not {chapter}"


def test_every_result_names_a_chapter_of_the_book():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = {entry["file"].split("/")[-1] for part in toc["parts"] for entry in part["chapters"]}
    for r in RESULTS:
        assert r.chapter in files, f"{r.id} names chapter {r.chapter!r}, which is not in _toc.yml"
        assert r.kind in ("derivation", "experiment")
        assert r.claim.strip(), f"{r.id} has no claim"


PLANTED = [(r, name) for r in DERIVATIONS for name in r.planted]


@pytest.mark.parametrize("result", DERIVATIONS, ids=lambda r: r.id)
def test_every_check_of_a_derivation_passes(result):
    for check in result.checks():
        assert check.id == result.id
        assert check.passed == check.decided, f"verdict set outside the comparison:\n{check}"
        check.assert_passed()


@pytest.mark.parametrize("result", DERIVATIONS, ids=lambda r: r.id)
def test_every_verdict_is_the_one_its_printed_difference_and_tolerance_give(result):
    """A check passes exactly when its deciding difference is within its tolerance (or, for a
    one-sided claim, above its bound), with the planted errors made too: no verdict is replaced
    after the comparison, so what the page prints is what decided."""
    runs = list(result.checks()) + [result.check(planted=name) for name in result.planted]
    for check in runs:
        assert check.passed == check.decided, f"{result.id}: the verdict disagrees with what it prints:\n{check}"
        assert ("DISAGREE" in str(check) or "FAILS" in str(check)) == (not check.passed), str(check)


@pytest.mark.parametrize("result", DERIVATIONS, ids=lambda r: r.id)
def test_every_check_of_a_derivation_declares_a_planted_error(result):
    for part in result.parts:
        assert part.planted, f"{result.id} [{part.label}] declares no planted error: what mistake does it reject?"


@pytest.mark.parametrize("result,name", PLANTED, ids=lambda x: x if isinstance(x, str) else x.id)
def test_every_planted_error_is_rejected(result, name):
    check = result.check(planted=name)
    assert check.id == result.id
    assert not check.passed, f"{result.id} passes with the planted error {name!r}: the check cannot tell\n{check}"


def test_planted_errors_leave_no_trace():
    # A planted run must not change what the honest run computes afterwards.
    for result in DERIVATIONS[:5]:
        before = [c.error_text() for c in result.checks()]
        for name in result.planted:
            result.check(planted=name)
        assert [c.error_text() for c in result.checks()] == before


@pytest.mark.parametrize("result", [r for r in RESULTS if r.kind == "experiment"], ids=lambda r: r.id)
def test_every_experiment_states_its_expected_direction(result):
    assert result.expected in ("increase", "decrease"), f"{result.id} states no expected direction"
    assert result.measures, f"{result.id} does not say what its effect measures"


def test_lecture_slips_say_where_they_stand_and_what_is_correct():
    from reglab.derivations.registry import errata

    slips = errata()
    assert len(slips) >= 4
    for result, planted in slips:
        assert planted.slip and planted.correct, (result.id, planted.name)


@pytest.mark.parametrize("result", DERIVATIONS, ids=lambda r: r.id)
def test_every_planted_error_says_who_makes_it_and_controls_are_not_the_only_proof(result):
    for part in result.parts:
        kinds = [p.category for p in part.planted]
        assert "unclassified" not in kinds, f"{result.id} [{part.label}]: give every planted error a kind: {kinds}"
        assert set(kinds) - {"control"}, (
            f"{result.id} [{part.label}] rejects only controls (the mechanism removed): add a plausible mistake")


# --- the claims as the appendix pages typeset them (claim_tex) ---------------------------------

_CODE_OR_MATH = r"(`[^`]*`|\$[^$]*\$)"


def tex_problems(tex: str) -> list[str]:
    """What keeps ``tex`` (MyST with ``$...$`` math) from being a claim typeset as math."""
    import re

    problems = []
    if tex.count("$") % 2:
        problems.append("an odd number of $")
    for i, piece in enumerate(re.split(_CODE_OR_MATH, tex)):
        if i % 2 == 0:  # prose: no formula left as plain text
            for pattern, what in ((r"\^", "^ outside math"), (r"\|\|", "|| outside math"),
                                  (r"\w_\w", "a subscript outside math"),
                                  (r"\b(alpha|lambda|eps|sigma|eta|tau|Gamma|Lambda)\b", "a Greek name in words")):
                if re.search(pattern, piece):
                    problems.append(f"{what}: {piece.strip()[:60]!r}")
        elif piece.startswith("$"):
            depth = 0
            for ch in re.sub(r"\\[{}]", "", piece):
                depth += {"{": 1, "}": -1}.get(ch, 0)
                if depth < 0:
                    break
            if depth:
                problems.append(f"unbalanced braces in {piece!r}")
            if re.search(r"[\^_]-|[\^_]\(|\|\||(?<![\\\w])(sqrt|alpha|lambda|eps|sigma|eta)\b|‖|∞|·", piece):
                problems.append(f"plain-text math in {piece!r}")
            if piece.count(r"\left") != piece.count(r"\right") or piece.count(r"\bigl") != piece.count(r"\bigr"):
                problems.append(f"unpaired delimiters in {piece!r}")
    return problems


@pytest.mark.parametrize("result", DERIVATIONS, ids=lambda r: r.id)
def test_every_derivation_has_its_claim_typeset_as_valid_math(result):
    assert result.claim_tex.strip(), f"{result.id} has no claim_tex (its claim as the appendix typesets it)"
    assert not tex_problems(result.claim_tex), f"{result.id}: {tex_problems(result.claim_tex)}"
    numbers = lambda s: sorted(re.findall(r"(?<![\w^])\d+(?:\.\d+)?(?!\w)", s))
    assert set(numbers(result.claim)) <= set(numbers(result.claim_tex)) | {"1", "2"}, (
        f"{result.id}: claim_tex drops a number of the claim")


@pytest.mark.parametrize("bad", [
    r"The ridge solution (X^T X + alpha I)^-1 X^T y",  # the plain claim, as before
    r"the minimiser $(H + \alpha I)^-1 H w^*$",  # ^-1 inside math
    r"the norm $\lVert w \rVert_{1$",  # a brace left open
    r"the norm $\lVert w\rVert is small",  # a $ left open
    r"scaled by lambda_i",  # a subscript and a Greek name in words
])
def test_tex_problems_catches_plain_text_math(bad):
    assert tex_problems(bad), f"not caught: {bad!r}"


@pytest.mark.parametrize("page", ["ledger", "errata"])
def test_the_appendix_page_has_a_section_per_chapter_in_book_order(page):
    """A heading per chapter (its title, a link to it), in the order of _toc.yml, over its table."""
    import nbformat

    from reglab.derivations.registry import errata

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    order = [e["file"].split("/")[-1] for part in toc["parts"] for e in part["chapters"] if "/appendix/" not in e["file"]]
    having = {r.chapter for r in RESULTS} if page == "ledger" else {r.chapter for r, _ in errata()}
    nb = nbformat.read(ROOT / "book" / "appendix" / f"{page}.ipynb", as_version=4)
    sections = []
    for cell, after in zip(nb.cells, [*nb.cells[1:], None]):
        m = re.search(r"^## \{doc\}`(.+) <\.\./(\w+)>`$", cell.source, re.MULTILINE) if cell.cell_type == "markdown" else None
        if m:
            sections.append(m.group(2))
            chapter = nbformat.read(ROOT / "book" / f"{m.group(2)}.ipynb", as_version=4)
            title = next(line[2:].strip() for c in chapter.cells if c.cell_type == "markdown"
                         for line in c.source.splitlines() if line.startswith("# "))
            assert m.group(1) == title, f"{page}: the heading of {m.group(2)} is not its title {title!r}"
            assert after is not None and f'table("{m.group(2)}")' in after.source, f"{page}: no table under {title}"
    assert sections == [c for c in order if c in having]
