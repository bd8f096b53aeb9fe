"""reglab.derivations.registry: results, their checks, planted errors and experiments."""
import pytest
from reglab.derivations.compare import compare
from reglab.derivations.registry import (
    Planted,
    choose,
    derivation,
    experiment,
    get_result,
    ledger,
    outcome_from,
    subcheck,
)


def test_registry_rejects_an_id_registered_twice():
    @derivation("T-10", chapter="_tests", claim="one claim", planted={"p": "a mistake"})
    def first(*, planted=None):
        return compare("T-10", 1.0, 1.0, atol=1.0)

    with pytest.raises(ValueError, match="registered twice"):
        experiment("T-10", chapter="_tests", claim="one claim", expected="increase")
    with pytest.raises(ValueError, match="registered twice"):
        derivation("T-10", chapter="_tests", claim="one claim")(first)


def test_planted_errors_run_the_checker_with_the_mistake():
    @derivation("T-14", chapter="_tests", claim="2 = 1 + 1", label="sum", planted={"off by one": "1 + 2"})
    def check_sum(*, planted=None):
        return compare("T-14", 2.0, 1.0 + (2.0 if planted == "off by one" else 1.0), atol=1e-12)

    @subcheck("T-14", label="product", planted=[Planted("squared", "2 * 2", slip="slide 3", correct="2 * 1")])
    def check_product(*, planted=None):
        return compare("T-14", 2.0, 2.0 * (2.0 if planted == "squared" else 1.0), atol=1e-12)

    result = get_result("T-14")
    assert result.planted == ("off by one", "squared")
    assert [c.label for c in result.checks()] == ["sum", "product"]
    assert result.check().passed
    assert not result.check(planted="off by one").passed
    assert not result.check(planted="squared").passed
    with pytest.raises(ValueError, match="declares no planted error"):
        result.check(planted="nonsense")
    with pytest.raises(ValueError, match="already has a check labelled"):
        subcheck("T-14", label="product")(check_product)


def test_planted_checker_must_take_the_keyword():
    with pytest.raises(TypeError, match="keyword argument 'planted'"):
        @derivation("T-15", chapter="_tests", claim="c", planted={"p": "a mistake"})
        def no_keyword():
            return compare("T-15", 1.0, 1.0, atol=1.0)


def test_lecture_slip_needs_the_correct_statement():
    with pytest.raises(ValueError, match="correct statement"):
        Planted("slip", "a mistake", slip="slide 4")


def test_experiment_verdict_follows_the_interval():
    experiment("T-16", chapter="_tests", claim="c", expected="increase", measures="gain", unit="points")
    o = outcome_from("T-16", effect=1.0, low=0.5, high=1.5, seeds=5)
    assert o.verdict == "supported"
    assert outcome_from("T-16", effect=0.2, low=-0.1, high=0.5, seeds=5).verdict == "not shown"
    assert outcome_from("T-16", per_seed=[-1.0, -1.1, -0.9, -1.0, -1.05]).verdict == "contradicted"
    with pytest.raises(ValueError, match="at least 5 seeds"):
        outcome_from("T-16", per_seed=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="expected must be one of"):
        experiment("T-17", chapter="_tests", claim="c", expected="up")


def test_choose_picks_the_right_or_the_named_wrong_computation():
    table = {"v/k^2": "wrong"}
    assert choose(None, "right", table) == "right"
    assert choose("v/k^2", "right", table) == "wrong"
    with pytest.raises(ValueError, match="no planted error 'nonsense'"):
        choose("nonsense", "right", table)


def test_outcome_needs_the_books_folder(tmp_path):
    experiment("T-19", chapter="_tests_none", claim="c", expected="increase", measures="gain", unit="")
    with pytest.raises(TypeError, match="book_dir"):
        get_result("T-19").outcome(None)
    with pytest.raises(FileNotFoundError, match="pass the book's folder"):
        get_result("T-19").outcome(tmp_path)


def test_the_ledger_holds_every_chapters_results_from_both_wings():
    import reglab  # noqa: F401 (registers both wings)

    kinds = {r.kind for r in ledger()}
    assert kinds == {"derivation", "experiment"}
    assert not any(r.chapter.startswith("_") for r in ledger())
