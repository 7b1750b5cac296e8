"""examples/lecture.ipynb runs from top to bottom in a fresh kernel (nbclient), and its
outputs say what the lecture claims: the RNN's bits grow linearly, the transformer's
like log n, the witness collides, the homework reduction checks out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "lecture.ipynb"


def _outputs(cell) -> tuple[str, dict[str, str]]:
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    data: dict[str, str] = {}
    for o in cell.outputs:
        data.update(o.get("data", {}))
    return text, data


@pytest.mark.timeout(600)
def test_lecture_notebook_runs_and_shows_the_separation():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook without outputs"
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError on the first cell that fails
    code = {c.source.splitlines()[-1]: c for c in nb.cells if c.cell_type == "code" and c.source}
    _, rnn = _outputs(code["rnn"])
    assert "<table>" in rnn["text/html"] and "data:image/svg+xml;base64," in rnn["text/html"]
    _, witness = _outputs(code["witness"])
    assert "a collision" in witness["text/plain"]
    printed, _ = _outputs(next(c for c in nb.cells if "growth_exponent(" in c.source and "for family" in c.source))
    slopes = dict(re.findall(r"^(\w+)\s.*growth exponent ([0-9.]+)$", printed, flags=re.M))
    assert float(slopes["rnn"]) >= 0.95 and float(slopes["transformer"]) <= 0.3
    _, fig = _outputs(code["fig"])
    assert "image/png" in fig
    _, check = _outputs(code["check"])
    assert ": OK on" in check["text/plain"] and "(exhaustive)" in check["text/plain"]
