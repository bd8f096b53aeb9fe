"""reglab.book: the chapter page (show, show_checks, record, glue) and the appendix tables."""
import re
import sys

import numpy as np
import pytest
import torch
from reglab import book
from reglab.appendix import chapters_in_order, errata_markdown, ledger_markdown, run_ledger
from reglab.book import glue, glue_many, record, show, show_checks
from reglab.derivations.compare import CheckFailed, compare
from reglab.derivations.registry import Part, Planted, Result, derivation, experiment, get_result


def test_outcome_is_read_back_from_the_stored_outputs(tmp_path, monkeypatch):
    # record glues as MyST-NB does; capture what it would store in the notebook.
    import nbformat

    experiment("T-18", chapter="_tests_nb", claim="c", expected="decrease", measures="error", unit="")
    stored = []

    def fake_display(data, raw=False, metadata=None):
        stored.append({"output_type": "display_data", "data": data, "metadata": metadata})

    monkeypatch.setattr("IPython.display.display", fake_display)
    record("T-18", effect=-0.1, low=-0.2, high=-0.05, seeds=5)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.from_dict(o) for o in stored]
    nb.cells = [cell]
    nbformat.validate(nb)  # the stored record must be a valid notebook output
    nbformat.write(nb, tmp_path / "_tests_nb.ipynb")
    o = get_result("T-18").outcome(tmp_path)
    assert (o.effect, o.low, o.high, o.seeds, o.verdict) == (-0.1, -0.2, -0.05, 5, "supported")


@pytest.mark.parametrize("value", [2.4105791970520047, 7, "a 'quoted' text", True])
def test_glue_writes_what_myst_nb_glue_writes(monkeypatch, value):
    # glue writes MyST-NB's record itself (importing MyST-NB costs a kernel two seconds): the
    # same output, byte for byte, as myst_nb.glue(name, value, display=False).
    pytest.importorskip("myst_nb")
    from myst_nb import glue as myst_glue

    ours, theirs = [], []
    monkeypatch.setattr(book, "_ipython", lambda: None)  # glue at once (MyST-NB makes a shell)
    monkeypatch.setattr(book, "_PENDING", [])
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: ours.append((a, k)))
    monkeypatch.setattr("myst_nb.ext.glue.ipy_display", lambda *a, **k: theirs.append((a, k)))
    glue("t_same", value)
    myst_glue("t_same", book.GLUED["t_same"], display=False)
    assert ours == theirs and len(ours) == 1


def _ledger_rows():
    first = compare("T-41", 2.0, 2.0, atol=1e-9)
    second = compare("T-41", 3.0, 3.5, atol=1.0)
    parts = (Part("enumeration", lambda: first, (Planted("alpha*w", "wrong sign", kind="student"),)),
             Part("autograd", lambda: second, (Planted("p^2", "second moment", "slide X", "p(1-p)"),)))
    derivation = Result("T-41", "_t_dropout", "a claim with alpha*w | pipe", "derivation", parts,
                        claim_tex=r"a claim with $\alpha w$")
    other = Result("T-42", "_t_bagging", "another claim_with x_i", "derivation", (Part("mc", lambda: first, ()),))
    return [(derivation, (first, second)), (other, (first,))]


def test_ledger_markdown_is_one_row_per_result_with_its_checks_folded_beneath():
    rows = _ledger_rows()
    table = ledger_markdown(rows, {("T-41", "alpha*w"): True, ("T-41", "p^2"): True})
    ids = re.findall(r"^\* - (.+)$", table, re.MULTILINE)
    assert ids == ["ID", '<span class="reglab-id">{doc}`T-41 <../_t_dropout>`</span>',
                   '<span class="reglab-id">{doc}`T-42 <../_t_bagging>`</span>']
    assert table.count('<details class="reglab-fold">') == 2 and table.count("</details>") == 2
    assert "<summary>2 checks, all agree; 2 of 2 planted mistakes rejected</summary>" in table
    assert "<summary>1 check, all agree</summary>" in table and "declares no planted mistake" in table
    # each check: its label, both numbers side by side, the verdict, what it rejects
    assert "- **enumeration**" in table and "- **autograd**" in table
    assert "difference 0.5, tolerance 1.0e+00: agree" in table
    assert "planted: *alpha\\*w* (wrong sign) (rejected)" in table and "a slip of the lecture" in table
    # the claim typeset from claim_tex; without one, the plain claim shown as written
    assert r"a claim with $\alpha w$" in table and "another claim\\_with x\\_i" in table
    assert table.count('<span class="reglab-verdict">confirmed</span>') == 2
    assert ":widths: 12 70 18" in table and ":class: reglab-ledger longtable" in table


def test_ledger_markdown_shows_a_planted_error_not_rejected_and_a_chapter_at_a_time():
    rows = _ledger_rows()
    table = ledger_markdown(rows, {("T-41", "alpha*w"): False, ("T-41", "p^2"): True})
    assert "NOT rejected" in table and "not confirmed" in table and "1 of 2 planted mistakes" in table
    one = ledger_markdown(rows, chapter="_t_bagging")
    assert "T-42" in one and "T-41" not in one
    with pytest.raises(ValueError, match="no registered result in the chapter 'nowhere'"):
        ledger_markdown(rows, chapter="nowhere")
    with pytest.raises(TypeError, match="rejected must be a dict"):
        ledger_markdown(rows, rejected=[("T-41", "alpha*w")])
    with pytest.raises(ValueError, match="book_dir"):
        ledger_markdown([(Result("T-43", "_t", "c", "experiment", expected="increase"), ())])


def test_the_ledger_groups_every_registered_result_once_in_book_order():
    import yaml

    from conftest import ROOT
    from reglab.derivations import ledger

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    order = [entry["file"].split("/")[-1] for part in toc["parts"] for entry in part["chapters"]]
    results = ledger()
    rows = [(r, ()) for r in sorted(results, key=lambda r: order.index(r.chapter))]
    chapters = chapters_in_order(rows)
    assert chapters == [c for c in order if c in {r.chapter for r in results}]
    fake = [(r, tuple(compare(r.id, 1.0, 1.0, atol=0.1) for _ in r.parts)) for r, _ in rows if r.kind == "derivation"]
    seen = []
    for chapter in chapters_in_order(fake):
        seen += re.findall(r'class="reglab-id">\{doc\}`([A-Z0-9]+-\d+) <\.\./' + chapter + ">`",
                           ledger_markdown(fake, chapter=chapter))
    assert sorted(seen) == sorted(r.id for r in results if r.kind == "derivation") and len(seen) == len(set(seen))
    with pytest.raises(TypeError, match="chapter_order"):
        run_ledger("regimes")
    with pytest.raises(TypeError, match="rows must hold results"):
        chapters_in_order(["REG-1"])


def test_errata_markdown_is_one_row_per_slip_by_chapter_with_its_check_folded():
    from reglab.derivations.registry import errata

    slips = errata()
    by_chapter = {r.chapter for r, _ in slips}
    total = 0
    for chapter in sorted(by_chapter):
        table = errata_markdown(chapter=chapter)
        rows = re.findall(r'^\* - <span class="reglab-id">\{doc\}`([A-Z0-9]+-\d+) <\.\./(\w+)>`', table, re.MULTILINE)
        assert {c for _, c in rows} == {chapter}
        assert table.count("the check, with the slip made: rejected") == len(rows)
        total += len(rows)
    assert total == len(slips)
    with pytest.raises(ValueError, match="no slip of the lecture in the chapter 'regimes'"):
        errata_markdown(chapter="regimes")


def test_glue_stores_a_stated_number_of_digits_never_a_raw_repr():
    glue("t_float", 2.4105791970520047)
    glue("t_six", 2.4105791970520047, digits=6)
    glue("t_tensor", torch.tensor(0.123456789))
    glue("t_numpy", np.float32(1.5))
    glue("t_int", 7)
    glue("t_text", "supported")
    got = {k: book.GLUED[k] for k in ("t_float", "t_six", "t_tensor", "t_numpy", "t_int", "t_text")}
    assert got == {"t_float": 2.411, "t_six": 2.41058, "t_tensor": 0.1235, "t_numpy": 1.5, "t_int": 7,
                   "t_text": "supported"}


@pytest.mark.parametrize("value, error", [(torch.ones(2), ValueError), ([1.0], TypeError), (None, TypeError)])
def test_glue_rejects_what_is_not_one_number_or_text(value, error):
    with pytest.raises(error, match="t_bad"):
        glue("t_bad", value)


@pytest.mark.parametrize("digits", [0, 16, 2.5, True])
def test_glue_digits_validated(digits):
    with pytest.raises(ValueError, match="digits"):
        glue("t_digits", 1.0, digits=digits)


def test_glue_works_without_myst_nb(monkeypatch):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # import myst_nb now fails, as in Colab
    assert glue("t_plain", 1.23456) is None and book.GLUED["t_plain"] == 1.235


def test_glue_many_prefixes_the_names():
    glue_many("t_many", seeds=5, gain=0.123456)
    assert (book.GLUED["t_many_seeds"], book.GLUED["t_many_gain"]) == (5, 0.1235)


def test_show_puts_each_part_on_its_own_line(capsys):
    show("T-30 [x]: a | b = 1 | c = 95 %")
    assert capsys.readouterr().out == "T-30 [x]: a\n    b = 1\n    c = 95\u00a0%\n"


def test_show_checks_prints_checks_and_rejected_planted_errors(capsys):
    @derivation("T-31", chapter="_tests", claim="1 = 1", label="one", planted={"two": "1 = 2"})
    def check_one(*, planted=None):
        return compare("T-31", 1.0, 2.0 if planted else 1.0, atol=1e-12)

    checks = show_checks("T-31")
    out = capsys.readouterr().out
    assert len(checks) == 1 and "T-31 [one]" in out and "planted error 'two': rejected" in out
    with pytest.raises(ValueError, match="no check labelled 'three'"):
        show_checks("T-31", "three")


def test_show_checks_fails_on_a_planted_error_that_passes():
    @derivation("T-32", chapter="_tests", claim="1 = 1", planted={"harmless": "changes nothing"})
    def check_harmless(*, planted=None):
        return compare("T-32", 1.0, 1.0, atol=1e-12)

    with pytest.raises(CheckFailed, match="not rejected"):
        show_checks("T-32")


def test_show_checks_source_folds_the_checkers_code(capsys):
    @derivation("T-33", chapter="_tests", claim="1 = 1", planted={"two": "1 = 2"})
    def check_source(*, planted=None):
        return compare("T-33", 1.0, 2.0 if planted else 1.0, atol=1e-12)

    show_checks("T-33", source=True)
    assert "source of check_source" in capsys.readouterr().out


def test_record_verdict_and_printout(capsys):
    experiment("T-34", chapter="_tests", claim="c", expected="increase", measures="gain", unit="points")
    o = record("T-34", [1.0, 1.1, 0.9, 1.0, 1.05])
    assert o.verdict == "supported" and "T-34: gain = +1.01 points" in capsys.readouterr().out
    assert book.GLUED["T-34:verdict"] == "supported"


def test_what_the_page_functions_return_is_not_displayed_again():
    """A cell ending with show_checks(...) or record(...) shows only what they printed."""
    @derivation("T-35", chapter="_tests", claim="1 = 1", planted={"two": "1 = 2"})
    def check_quiet(*, planted=None):
        return compare("T-35", 1.0, 2.0 if planted else 1.0, atol=1e-12)

    shown = show_checks("T-35")
    assert isinstance(shown, tuple) and shown[0].passed and shown._ipython_display_() is None
    experiment("T-36", chapter="_tests", claim="c", expected="increase", measures="gain", unit="")
    assert record("T-36", [1.0, 1.1, 0.9, 1.0, 1.05])._ipython_display_() is None
