"""tools.stored_outputs: a notebook executed elsewhere held against the book's stored outputs."""
from __future__ import annotations

import copy

import nbformat
import pytest

from tools import stored_outputs

GLUE = "application/papermill.record/text/plain"


def _book():
    nb = nbformat.v4.new_notebook()
    cells = [
        nbformat.v4.new_code_cell("x = 0.1234\nprint(f'x = {x:.3f}')", id="aaa"),
        nbformat.v4.new_code_cell("print('a'); print('b')", id="bbb"),
        nbformat.v4.new_code_cell("glue('x', x)\nplot()", id="ccc"),
        nbformat.v4.new_code_cell("print(time.time())", id="ddd", metadata={"tags": ["nbval-ignore-output"]}),
    ]
    cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x = 0.123\n")]
    cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="a\n"),
                        nbformat.v4.new_output("stream", name="stdout", text="b\n")]
    cells[2].outputs = [
        nbformat.v4.new_output("display_data", data={GLUE: "0.1234"}, metadata={"scrapbook": {"name": "x"}}),
        nbformat.v4.new_output("display_data", data={"text/plain": "<Figure size 640x480 with 1 Axes>",
                                                     "image/png": "iVBORw0KGgo="}),
    ]
    cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1765000000.0\n")]
    nb.cells = cells
    return nb


def _executed():
    """What a plain kernel prints for the same cells: no glue record, a folded cell titled for
    Colab, the streams in one piece, another figure and another clock; an install cell first."""
    nb = copy.deepcopy(_book())
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="a\nb\n")]
    nb.cells[2].source = "# @title Folded code (double-click to show it)\n" + nb.cells[2].source
    nb.cells[2].outputs = [nbformat.v4.new_output("display_data", data={
        "text/plain": "<Figure size 640x480 with 1 Axes>", "image/png": "AAAA"})]
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1765000999.0\n")]
    install = nbformat.v4.new_code_cell("%pip install reglab", id="install")
    install.outputs = [nbformat.v4.new_output("stream", name="stdout", text="installed\n")]
    nb.cells.insert(0, install)
    return nb


def test_the_same_outputs_compare_equal():
    result = stored_outputs.compare(_executed(), _book())
    assert (result.compared, result.ignored, result.unmatched, result.differing) == (3, 1, 1, [])


@pytest.mark.parametrize(
    "plant, found",
    [
        (lambda nb: setattr(nb.cells[1].outputs[0], "text", "x = 0.124\n"), "line 1: stored 'x = 0.123'"),
        (lambda nb: nb.cells[2].outputs.append(nbformat.v4.new_output("stream", name="stdout", text="c\n")),
         "stored 2 lines, got 3"),
        (lambda nb: setattr(nb.cells[1], "outputs", []), "none produced"),
        (lambda nb: nb.cells[1].outputs.append(nbformat.v4.new_output("stream", name="stderr", text="warn\n")),
         "stderr: stored none"),
        (lambda nb: setattr(nb.cells[2], "source", "print('a')"), "its code is not the book's"),
        (lambda nb: nb.cells[3].outputs[0].data.update({"text/plain": "array([1., 2.])"}),
         "text/plain: line 1: stored '<Figure>'"),
    ],
    ids=["a number", "a line more", "nothing printed", "a warning", "other code", "another result"],
)
def test_a_planted_difference_is_reported(plant, found):
    executed = _executed()
    plant(executed)
    result = stored_outputs.compare(executed, _book())
    assert len(result.differing) == 1 and found in result.differing[0], result.differing


def test_the_command_fails_on_a_difference(tmp_path, capsys):
    book, executed = tmp_path / "book.ipynb", tmp_path / "run.ipynb"
    nbformat.write(_book(), book)
    nb = _executed()
    nbformat.write(nb, executed)
    assert stored_outputs.main([str(executed), "--book", str(book)]) == 0
    nb.cells[1].outputs[0].text = "x = 9.999\n"
    nbformat.write(nb, executed)
    assert stored_outputs.main([str(executed), "--book", str(book)]) == 1
    assert "1 differ" in capsys.readouterr().out
