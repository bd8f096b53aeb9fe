"""`pytest --chapter NAME` (make test NB=...): a chapter's parametrized tests and the book-wide ones."""
from pathlib import Path
from types import SimpleNamespace

from conftest import item_chapters
from reglab.derivations import get_result


def _item(**params):
    return SimpleNamespace(callspec=SimpleNamespace(params=params))


def test_a_result_an_exercise_a_notebook_or_a_chapter_name_says_the_chapter():
    assert item_chapters(_item(result=get_result("DO-1"))) == {"dropout"}
    assert item_chapters(_item(result=get_result("WD-1"), name="a planted error")) == {"weight_decay"}
    assert item_chapters(_item(label="ex-bagging-2")) == {"bagging"}
    assert item_chapters(_item(path=Path("book/l1_penalty.ipynb"))) == {"l1_penalty"}
    assert item_chapters(_item(chapter="multitask")) == {"multitask"}


def test_a_test_of_the_whole_book_belongs_to_no_chapter():
    assert item_chapters(SimpleNamespace()) == set()
    assert item_chapters(_item(bad="the norm $w$", page="ledger")) == set()
