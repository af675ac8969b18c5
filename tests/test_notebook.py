"""The drill-down notebook, run top to bottom in a real Jupyter kernel (nbclient +
ipykernel), on the 2021-08-23 replay and on the decoy day, through the public API only.

The assertions read what the cells produced: the incidents table, the ranked causes, the
figure, the requests, not only that the cells ran."""

import json
import re
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "drilldown.ipynb"

#: Appended to the notebook under test: the state the cells left, as one JSON line. With
#: the widget, choosing the last incident must move INCIDENT (what the next cells read).
PROBE = """import json
first = INCIDENT
if ipywidgets is not None:
    picker.value = incidents.index[-1]
print("PROBE " + json.dumps({
    "widget": ipywidgets is not None, "picked_after": INCIDENT,
    "incidents": list(incidents.index),
    "picked": first,
    "top_cause": inc.causes["cause"].iloc[0],
    "evidence_for": int(evidence["supports"].sum()),
    "plot_panels": len(fig.axes),
    "plot_axis": fig.axes[-1].get_xlabel(),
    "requests": len(reqs), "requests_offset_s": reqs.index[0].utcoffset().total_seconds(),
    "timeouts": int((reqs["status"] == "timeout").sum()),
    "signal": SIGNAL, "free_lines": len(ax.get_lines()),
}))"""


def _run(store, widgets: bool) -> tuple[list, dict, float]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    hide = "" if widgets else "import sys; sys.modules['ipywidgets'] = None  # not installed\n"
    nb.cells.insert(params + 1, nbformat.v4.new_code_cell(
        f"{hide}STORE, SINCE, UNTIL, TZ = {str(store.root)!r}, {store.since!r}, "
        f"{store.until!r}, {store.tz!r}"))
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    seconds = time.perf_counter() - t0
    probe = next(o["text"] for o in nb.cells[-1].outputs if o.get("name") == "stdout")
    return nb.cells, json.loads(probe.split("PROBE ", 1)[1]), seconds


def _cell_output(cells, marker: str) -> list:
    return next(c.outputs for c in cells if c.cell_type == "code" and marker in c.source)


def test_committed_notebook_has_no_outputs_and_imports_only_the_public_api():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    imports = {m for c in code for m in re.findall(r"^\s*(?:import|from)\s+([\w.]+)",
                                                    c.source, re.M)}
    assert "rca" in imports
    assert not {m for m in imports if m.startswith("rca.")}, imports


@pytest.mark.parametrize("day, top, widgets", [
    ("2021-08-23", "dns.resolver_timeout", True),
    ("decoy-app-slow", "app.slow_response", False),  # the picker without ipywidgets
])
def test_notebook_runs_in_a_kernel_and_shows_the_day(replay_store, day, top, widgets, capsys):
    store = replay_store(day)
    capsys.readouterr()
    cells, probe, seconds = _run(store, widgets)
    print(f"notebook on {day}: {seconds:.1f} s")
    expected = store.expected["incidents"]
    assert len(probe["incidents"]) == len(expected) >= 1
    # the incidents table is displayed, one row per incident
    table = _cell_output(cells, "incidents = s.incidents")[0]["data"]["text/html"]
    assert all(i in table for i in probe["incidents"])
    assert probe["picked"] == probe["incidents"][0]
    picker = _cell_output(cells, "INCIDENT = incidents.index[0]")
    assert probe["widget"] is widgets
    if widgets:  # a Dropdown was displayed, and choosing in it sets INCIDENT
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                   for o in picker), picker
        assert probe["picked_after"] == probe["incidents"][-1]
    else:
        assert f"INCIDENT = {probe['incidents'][0]!r}" in picker[0]["text"]
    assert probe["top_cause"] == top == expected[0]["cause"]
    causes = _cell_output(cells, "inc.causes[[")[0]["data"]["text/plain"]
    assert top in causes.splitlines()[1], causes  # ranked first in the displayed table
    assert probe["evidence_for"] >= 1
    # the plot: request latency on top plus a panel per signal of the top causes
    image = _cell_output(cells, "fig = inc.plot()")
    assert any("image/png" in o.get("data", {}) for o in image), image
    assert probe["plot_panels"] >= 2 and store.tz in probe["plot_axis"]
    offset = pd.Timestamp(expected[0]["start"]).utcoffset().total_seconds()  # +08:00
    assert probe["requests"] > 0 and probe["requests_offset_s"] == offset
    assert probe["timeouts"] >= 1
    assert probe["free_lines"] >= 1
    assert not [o for c in cells if c.cell_type == "code" for o in c.outputs
                if o.get("output_type") == "error"]
