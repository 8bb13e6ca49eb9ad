"""A damaged SQLite store under the reports: one clear line and exit 2, no traceback."""

import sqlite3
from contextlib import closing

import pytest

from haco import ledger, store_file, tracking
from haco.report.cli import tables_main
from haco.run_reader import Columns, read_runs


def test_tables_of_a_damaged_store_say_so_in_one_line_with_exit_2(
        damaged_store, assert_damage_reported, tmp_path, capsys):
    assert tables_main(["--tracking-uri", f"sqlite:///{damaged_store}",
                        "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("haco: ") and "Traceback" not in err
    assert_damage_reported(err, damaged_store)


def zero_page(database, table: str) -> None:
    """Overwrite the first page of `table` with zeros, as a bad disk would."""
    with closing(sqlite3.connect(database)) as db:
        (page,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                             (table,)).fetchone()
        (size,) = db.execute("PRAGMA page_size").fetchone()
    with open(database, "r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(bytes(size))


def test_damage_met_while_reading_runs_is_the_same_clear_error(tmp_path, monkeypatch):
    """A page broken inside a table passes the cheap checks of an open; the reader's query
    meets it, and says the same as the open would."""
    sound = tmp_path / "sound.db"
    client = tracking.open_client(f"sqlite:///{sound}")
    experiment = client.create_experiment("haco/losses")
    client.create_run(experiment)
    broken = tmp_path / "broken.db"
    broken.write_bytes(sound.read_bytes())
    zero_page(broken, "runs")
    uri = f"sqlite:///{broken}"
    monkeypatch.setattr(store_file, "_opened", {uri})  # as if this process had opened it
    with pytest.raises(store_file.DamagedStore, match=rf"the MLflow store {broken} is damaged "
                       r"\(database disk image is malformed\)"):
        read_runs(uri, experiment, ledger.status_is(ledger.Status.FINISHED), Columns(()))
