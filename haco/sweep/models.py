"""The best checkpoint of each row, registered by name after a launch.

Per row of a grid study, the FINISHED run with the highest `val/f1` (over its seeds) has
its checkpoint uploaded to `model/` and registered as a new version of
`haco-<study>-<row>` (haco.ledger.model_name), tagged with its test F1s; the run carries
`haco.model=<name>/<version>`. `haco eval` and `haco predict` then take
`checkpoint=models:/<name>/<version>` (or `runs:/<run id>/model/last.pt`, or a path).
A row whose best run is registered already is left alone.
"""

from __future__ import annotations

from pathlib import Path

from haco import ledger
from haco.ledger import Status, Tag

SELECTED_BY = "val/f1"


def best_runs(found: dict, specs: list) -> dict[str, object]:
    """{row: its FINISHED run with the highest val/f1} over the rows of `specs`."""
    best: dict[str, object] = {}
    for spec in specs:
        run = found.get(spec.key)
        if run is None or run.info.status != Status.FINISHED:
            continue
        value = run.data.metrics.get(SELECTED_BY, float("-inf"))
        held = best.get(spec.row)
        if held is None or value > held.data.metrics.get(SELECTED_BY, float("-inf")):
            best[spec.row] = run
    return best


def register_best(client, study: str, found: dict, specs: list) -> dict[str, str]:
    """{row: `<name>/<version>`} of the rows whose best run was registered now."""
    registered = {}
    for row, run in best_runs(found, specs).items():
        checkpoint = Path(run.data.tags.get(Tag.CHECKPOINT, "")).expanduser()
        if Tag.MODEL in run.data.tags or not checkpoint.is_file():
            continue
        client.log_artifact(run.info.run_id, str(checkpoint), ledger.MODEL_PATH)
        tests = {k: f"{v:.4f}" for k, v in run.data.metrics.items()
                 if k.startswith("test/") and k.endswith("/f1") and k.count("/") == 2}
        registered[row] = ledger.register(client, ledger.model_name(study, row), run,
                                          {"selected_by": SELECTED_BY, **tests})
    return registered
