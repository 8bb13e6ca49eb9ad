"""A launch into a damaged SQLite store: one clear line and exit 2, before Ray starts."""

import importlib

from haco.sweep import main

launch_module = importlib.import_module("haco.sweep.launch")  # `haco.sweep.launch` is a function


def never_started(*args, **kwargs):
    raise AssertionError("Ray started")


def test_a_launch_into_a_damaged_store_says_so_before_ray_starts(
        damaged_store, assert_damage_reported, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(launch_module, "connect", never_started)
    assert main("losses", ["profile=smoke", f"mlflow.tracking_uri=sqlite:///{damaged_store}",
                           f"data.root={tmp_path}/data", f"sweep.storage_path={tmp_path}/runs",
                           "sweep.rows=[CE loss]"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("haco: ") and "Traceback" not in err
    assert_damage_reported(err, damaged_store)
