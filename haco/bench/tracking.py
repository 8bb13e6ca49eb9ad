"""`haco bench tracking`: how reading MLflow grows with the store, from 1,000 to 10,000 runs.

Per store size (haco/bench/synthetic_store.py builds each once and keeps it), times:
- `python analysis/tables.py`: every table, as a user runs it (a fresh process, imports
  included);
- the plan's look-ups: what a launch asks MLflow before its first trial, for each grid
  study (the trials by key, open runs, the cached baselines of a data key);
- the UI's runs query: `mlflow ui` over the store answering the REST search the runs page
  sends (100 runs, newest first) for each study, and paging through the largest study.
Then how each grew: 10x the runs at linear cost is 10x the time.

Run: haco bench tracking [sizes=[1000,10000]] [store_dir=...] [port=5071]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from omegaconf import OmegaConf

from haco import baselines, ledger, tracking
from haco.bench import synthetic_store
from haco.ledger import Tag
from haco.paths import cache_root, project_root

UI_PAGE = 100  # runs per page of the UI's runs table


def store_of(cfg, runs: int) -> Path:
    root = Path(cfg.store_dir).expanduser() if cfg.store_dir else cache_root() / "bench-tracking"
    return root / f"v{synthetic_store.VERSION}-{runs}"


def ensure_stores(cfg) -> dict[int, str]:
    """{size: tracking URI}, building the stores not built yet."""
    rows, out = None, {}
    for runs in cfg.sizes:
        folder = store_of(cfg, int(runs))
        if not (folder / "mlflow.db").exists():
            rows = rows or synthetic_store.templates(str(cfg.profile))
            print(f"building a store of {runs} runs in {folder} (once; kept for next time)")
            started = time.monotonic()
            synthetic_store.build(folder, int(runs), rows, int(cfg.workers))
            print(f"  built in {time.monotonic() - started:.0f} s")
        out[int(runs)] = f"sqlite:///{folder / 'mlflow.db'}"
    return out


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def time_tables(uri: str) -> float:
    """`python analysis/tables.py` over the store, in a fresh process, as a user runs it."""
    with tempfile.TemporaryDirectory(prefix="haco-bench-tables-") as out:
        command = [sys.executable, str(project_root() / "analysis" / "tables.py"),
                   "--tracking-uri", uri, "--out", out]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"analysis/tables.py failed on {uri}:\n{done.stderr[-2000:]}")
    return seconds


def plan_lookups(client, experiment: str) -> None:
    """What a launch reads before its first trial (haco/sweep/launch.py): the trial runs
    by key (which trials are done; the estimate's history), the open runs (stale ones are
    retired) and the cached baselines of the data its trials read."""
    found = ledger.trials_by_key(client, experiment)
    ledger.open_runs(client, experiment)
    keys = {run.data.tags.get(Tag.DATA_KEY) for run in found.values()} - {None}
    for key in sorted(keys)[-1:]:  # the newest code's data key, as a launch of it reads
        baselines.cached(client, experiment, key)


def time_plan(uri: str) -> float:
    client = tracking.open_client(uri)
    studies = ledger.studies(client)
    return sum(timed(lambda e=studies[s]: plan_lookups(client, e))
               for s in synthetic_store.STUDIES if s in studies)


def search_page(base: str, experiment: str, token: str | None = None) -> dict:
    """One page of the runs table, as the UI asks for it."""
    body = {"experiment_ids": [experiment], "filter": "", "run_view_type": "ACTIVE_ONLY",
            "max_results": UI_PAGE, "order_by": ["attributes.start_time DESC"]}
    if token:
        body["page_token"] = token
    request = urllib.request.Request(f"{base}/api/2.0/mlflow/runs/search",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as answer:
        return json.load(answer)


def every_page(base: str, experiment: str) -> int:
    pages, token = 0, None
    while True:
        found = search_page(base, experiment, token)
        pages, token = pages + 1, found.get("next_page_token")
        if not token:
            return pages


def time_ui(cfg, uri: str) -> tuple[float, float, int]:
    """(first page of every study, every page of the largest, its pages) over REST."""
    from haco import ui

    client = tracking.open_client(uri)
    studies = ledger.studies(client)
    server_cfg = OmegaConf.merge(cfg, {"mlflow": {"tracking_uri": uri}, "workers": 1})
    server = subprocess.Popen(ui.server_command(server_cfg), env=ui.server_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{cfg.port}"
    try:
        if not ui.wait_until_up(base, server):
            raise RuntimeError(f"mlflow ui did not start on {base}: is port {cfg.port} taken? "
                               "try port=5072")
        search_page(base, next(iter(studies.values())))  # the server's own warm-up
        first = sum(timed(lambda e=e: search_page(base, e)) for e in studies.values())
        largest = max(studies.values(), key=lambda e: len(ledger.runs(client, e)))
        pages: list[int] = []
        every = timed(lambda: pages.append(every_page(base, largest)))
        return first, every, pages[0]
    finally:
        server.terminate()
        server.wait()


def bench_command(cfg) -> int:
    if not cfg.sizes or any(int(s) < 1 for s in cfg.sizes):
        print(f"haco: sizes={list(cfg.sizes)}: give store sizes in runs, e.g. "
              "sizes=[1000,10000]", file=sys.stderr)
        return 2
    stores = ensure_stores(cfg)
    keys, values = synthetic_store.schema_counts()
    print(f"\nstores of a lab's runs: parent, trial and baseline runs of the "
          f"{len(synthetic_store.STUDIES)} grid studies; a trial run has {keys} metric keys "
          f"({values} values with its per-epoch history), its real config as params and "
          f"the ledger's tags")
    times = {size: measure(cfg, uri) for size, uri in stores.items()}
    print_times(times)
    return 0


def measure(cfg, uri: str) -> dict[str, float]:
    tables, plan = time_tables(uri), time_plan(uri)
    first, every, pages = time_ui(cfg, uri)
    return {"python analysis/tables.py (every table)": tables,
            "the plan's look-ups (5 studies)": plan,
            "UI: first page of runs (5 studies)": first,
            "UI: every page of the largest study": every,
            "  (its pages of 100 runs)": pages}


def print_times(times: dict[int, dict[str, float]]) -> None:
    sizes = sorted(times)
    growing = len(sizes) > 1
    print(f"\n{'seconds':<44}" + "".join(f"{f'{s:,} runs':>13}" for s in sizes)
          + (f"{'growth':>9}  (runs x{sizes[-1] / sizes[0]:.0f})" if growing else ""))
    for name in times[sizes[0]]:
        row = [times[s][name] for s in sizes]
        growth = f"{row[-1] / row[0]:>8.1f}x" if growing and row[0] > 0 else ""
        cells = "".join(f"{v:>13.0f}" if name.startswith("  ") else f"{v:>13.2f}" for v in row)
        print(f"{name:<44}{cells} {growth}")
