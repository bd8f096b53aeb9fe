"""tools/heaviest_first.py: nbval's notebooks handed to the workers longest first."""

import json

from tools import heaviest_first


def test_notebooks_are_ordered_by_recorded_time_longest_first(tmp_path, monkeypatch):
    book = tmp_path / "book"
    (book / "appendix").mkdir(parents=True)
    report = book / "execution_report.json"
    report.write_text(
        json.dumps(
            {
                "notebooks": {
                    "a.ipynb": {"seconds": 5.0},
                    "b.ipynb": {"seconds": 30.5},
                    "appendix/c.ipynb": {"seconds": 12.0},
                }
            }
        )
    )
    monkeypatch.setattr(heaviest_first, "REPORT", report)
    paths = [book / "a.ipynb", book / "appendix" / "c.ipynb", book / "b.ipynb", book / "new.ipynb"]
    assert heaviest_first.heaviest_first(paths) == [
        book / "b.ipynb",
        book / "appendix" / "c.ipynb",
        book / "a.ipynb",
        book / "new.ipynb",
    ]


def test_without_a_report_the_order_is_by_name(tmp_path, monkeypatch):
    monkeypatch.setattr(heaviest_first, "REPORT", tmp_path / "none.json")
    assert heaviest_first.heaviest_first([tmp_path / "b", tmp_path / "a"]) == [tmp_path / "a", tmp_path / "b"]


class _Item:
    def __init__(self, path, name):
        self.path, self.name = path, name


def test_cells_keep_their_order_within_a_notebook(tmp_path, monkeypatch):
    report = tmp_path / "execution_report.json"
    report.write_text(json.dumps({"notebooks": {"x.ipynb": {"seconds": 1}, "y.ipynb": {"seconds": 9}}}))
    monkeypatch.setattr(heaviest_first, "REPORT", report)
    x, y = tmp_path / "x.ipynb", tmp_path / "y.ipynb"
    items = [_Item(x, "x0"), _Item(x, "x1"), _Item(y, "y0"), _Item(x, "x2"), _Item(y, "y1")]
    heaviest_first.pytest_collection_modifyitems(None, None, items)
    assert [i.name for i in items] == ["y0", "y1", "x0", "x1", "x2"]
