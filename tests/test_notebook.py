"""The drill-down notebook runs top to bottom on the replay, through the public API."""

import json
from pathlib import Path

import matplotlib

from rca.cli import main

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "drilldown.ipynb"


def test_notebook_cells_run_on_the_replay(tmp_path, capsys):
    matplotlib.use("Agg")
    work = tmp_path / "demo"
    assert main(["demo", "--workdir", str(work), "--reports", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    cells = [c for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    assert cells
    namespace: dict = {}
    for cell in cells:
        source = "".join(cell["source"]).replace(
            "'../build/demo/store-2021-08-23'", repr(str(work / "store-2021-08-23")))
        exec(compile(source, str(NOTEBOOK), "exec"), namespace)  # noqa: S102
    incidents = namespace["result"].incidents
    assert len(incidents) == 5
    timeouts = namespace["reqs"][namespace["reqs"]["status"] == "timeout"]
    assert not timeouts.empty
    assert namespace["reqs"].index[0].utcoffset().total_seconds() == 8 * 3600
