"""`haco data import`: labels at the paper's thresholds, skipped records, atomic replacement."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import trimesh
from PIL import Image

from haco.config import load_config
from haco.data import importer, records
from haco.data.shards import STATS_FILE, SplitReader, completed_shards, load_stats
from haco.hand import load_hand
from haco.labels import THRESHOLDS, contact_labels

HAND = load_hand().vertices  # (778, 3) procedural right hand, metres
RED, BLUE = (255, 0, 0), (0, 0, 255)


# ---------------------------------------------------------------------------- fixtures


def touching_box(vertices: np.ndarray) -> trimesh.Trimesh:
    """A box under the middle of the hand, 1 mm into it: contact at 3.5 cm and at 0.5 cm."""
    centre = vertices.mean(axis=0)
    near = np.linalg.norm(vertices[:, :2] - centre[:2], axis=1) < 0.02
    top = vertices[near, 2].min() + 0.001
    box = trimesh.creation.box(extents=(0.04, 0.04, 0.02))
    box.apply_translation([centre[0], centre[1], top - 0.01])
    return box


def write_record(input_dir, rid, image=None, hand=None, mesh=None, mesh_name="mesh.obj",
                 contacts=None, crop=None, image_name="image.png"):
    """One record directory; `image` is an (H, W, 3|4) array or raw bytes."""
    record = input_dir / rid
    record.mkdir(parents=True)
    if isinstance(image, bytes):
        (record / image_name).write_bytes(image)
    elif image is not None:
        Image.fromarray(image).save(record / image_name)
    if hand is not None:
        np.savez(record / "hand.npz", **hand)
    if isinstance(mesh, str):
        (record / mesh_name).write_text(mesh)
    elif mesh is not None:
        mesh.export(record / mesh_name)
    if contacts is not None:
        np.save(record / "contacts.npy", contacts)
    if crop is not None:
        (record / "crop.json").write_text(json.dumps({"box": crop}))
    return record


def random_image(rng, height=None, width=None) -> np.ndarray:
    height = height or int(rng.integers(20, 90))
    width = width or int(rng.integers(20, 90))
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def good_record(input_dir, rid, rng, mesh_name="mesh.obj"):
    """A valid record: a translated hand touching a box. Returns (vertices, reloaded mesh)."""
    vertices = HAND + rng.uniform(-0.5, 0.5, 3)
    box = touching_box(vertices)
    box.apply_translation(rng.uniform(-0.002, 0.002, 3))  # labels differ between records
    record = write_record(input_dir, rid, random_image(rng), {"vertices": vertices}, box,
                          mesh_name=mesh_name)
    # Expected labels come from the mesh as written (text formats round coordinates).
    return vertices, trimesh.load(record / mesh_name, force="mesh", process=False)


def good_input(input_dir, n, seed=0, prefix="r"):
    rng = np.random.default_rng(seed)
    names = ["mesh.obj", "mesh.ply", "mesh.stl"]
    return {f"{prefix}{i}": good_record(input_dir, f"{prefix}{i}", rng, names[i % 3])
            for i in range(n)}


def run(tmp_path, dataset, split, input_dir, *overrides) -> int:
    cfg = load_config("data_import", ["profile=smoke", f"data.root={tmp_path / 'data'}",
                                      f"dataset={dataset}", f"split={split}",
                                      f"input={input_dir}", *overrides])
    return importer.import_command(cfg)


def split_dir(tmp_path, dataset, split):
    return tmp_path / "data" / "real" / dataset / split


def report(tmp_path, dataset, split) -> dict:
    path = tmp_path / "data" / "real" / dataset / f"{split}.import_report.json"
    return json.loads(path.read_text())


def dead_pid() -> int:
    """The id of a process that has exited (as a killed importer's would be)."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


# ---------------------------------------------------------------------------- imports


def test_labels_are_computed_at_each_datasets_threshold(tmp_path):
    truth = good_input(tmp_path / "in", 5)
    labels = {}
    for dataset, split, group in [("MOW", "test", "HO"), ("InterHand2.6M", "train", "HH")]:
        assert run(tmp_path, dataset, split, tmp_path / "in", "data.shard_size=2") == 0
        out = split_dir(tmp_path, dataset, split)
        assert completed_shards(out) == [0, 1, 2]  # 5 records in shards of 2
        reader = SplitReader(out)
        assert (reader.dataset, reader.split, reader.group) == (dataset, split, group)
        assert reader.image_size == (32, 32)  # profile=smoke
        batch = reader.get_batch(range(len(reader)))
        assert batch["id"] == sorted(truth)
        assert batch["image"].shape == (5, 32, 32, 3)
        for i, rid in enumerate(batch["id"]):
            vertices, mesh = truth[rid]
            expected = contact_labels(vertices, mesh, THRESHOLDS[dataset])
            assert np.array_equal(batch["contacts"][i], expected), (dataset, rid)
            np.testing.assert_allclose(batch["vertices"][i], vertices, atol=1e-6)
        labels[dataset] = batch["contacts"]
        assert load_stats(out)["num_samples"] == 5
        got = report(tmp_path, dataset, split)
        assert (got["records"], got["imported"], got["skipped"]) == (5, 5, 0)
        assert got["threshold"] == THRESHOLDS[dataset] and got["status"] == "imported"
    # 3.5 cm labels more of the hand than 0.5 cm, and both label some of it.
    assert labels["InterHand2.6M"].any()
    assert labels["MOW"].sum() > labels["InterHand2.6M"].sum()
    assert not (labels["InterHand2.6M"] & ~labels["MOW"]).any()


def test_provided_label_dataset_uses_contacts_npy(tmp_path):
    rng = np.random.default_rng(1)
    provided = {"a": rng.random(778) < 0.2, "b": (rng.random(778) < 0.1).astype(np.uint8)}
    box = touching_box(HAND)
    write_record(tmp_path / "in", "a", random_image(rng), {"vertices": HAND}, box,
                 contacts=provided["a"])
    write_record(tmp_path / "in", "b", random_image(rng), {"vertices": HAND},
                 contacts=provided["b"])
    write_record(tmp_path / "in", "c", random_image(rng), {"vertices": HAND}, box)

    assert run(tmp_path, "Hi4D", "test", tmp_path / "in", "max_failures=0.5") == 0
    reader = SplitReader(split_dir(tmp_path, "Hi4D", "test"))
    batch = reader.get_batch([0, 1])
    assert batch["id"] == ["a", "b"] and reader.group == "HB"
    for i, rid in enumerate(batch["id"]):
        assert np.array_equal(batch["contacts"][i], provided[rid].astype(bool))
    got = report(tmp_path, "Hi4D", "test")
    assert got["threshold"] == "provided"
    assert got["labels_from"] == {"contacts.npy": 2}
    [skipped] = got["skipped_records"]
    assert skipped["id"] == "c" and "missing contacts.npy" in skipped["reason"]
    assert any("mesh ignored" in note and "(a)" in note for note in got["notes"])


def test_thresholded_dataset_prefers_the_mesh_and_accepts_contacts_alone(tmp_path):
    rng = np.random.default_rng(2)
    box, wrong = touching_box(HAND), np.ones(778, bool)
    record = write_record(tmp_path / "in", "both", random_image(rng), {"vertices": HAND}, box,
                          contacts=wrong)
    write_record(tmp_path / "in", "only_contacts", random_image(rng), {"vertices": HAND},
                 contacts=wrong)

    assert run(tmp_path, "MOW", "train", tmp_path / "in") == 0
    batch = SplitReader(split_dir(tmp_path, "MOW", "train")).get_batch([0, 1])
    mesh = trimesh.load(record / "mesh.obj", force="mesh", process=False)
    assert np.array_equal(batch["contacts"][0], contact_labels(HAND, mesh, 0.035))
    assert not batch["contacts"][0].all()
    assert batch["contacts"][1].all()
    got = report(tmp_path, "MOW", "train")
    assert got["labels_from"] == {"mesh": 1, "contacts.npy": 1}
    assert any("contacts.npy ignored" in note and "(both)" in note for note in got["notes"])


def test_mano_parameters_are_posed_with_the_model(tmp_path, monkeypatch):
    # No MANO file ships with the tests: the procedural hand stands in for the loaded model.
    hand = load_hand()
    monkeypatch.setattr(records, "load_hand", lambda path: hand)
    mano = tmp_path / "MANO_RIGHT.pkl"
    mano.write_bytes(b"stand-in")
    rng = np.random.default_rng(3)
    params = {"p48": {"pose": rng.normal(0, 0.2, 48), "transl": np.array([0.1, 0.0, 0.5])},
              "p45": {"pose": rng.normal(0, 0.2, (15, 3))}}
    for rid, fields in params.items():
        write_record(tmp_path / "in", rid, random_image(rng), fields,
                     contacts=np.zeros(778, bool))
    write_record(tmp_path / "in", "p30", random_image(rng), {"pose": np.zeros(30)},
                 contacts=np.zeros(778, bool))

    rc = run(tmp_path, "MOW", "train", tmp_path / "in", f"hand.mano_path={mano}",
             "max_failures=0.5")
    assert rc == 0
    batch = SplitReader(split_dir(tmp_path, "MOW", "train")).get_batch([0, 1])
    assert batch["id"] == ["p45", "p48"]
    p48 = params["p48"]
    expected = {"p45": hand.forward(params["p45"]["pose"]).vertices,
                "p48": hand.forward(p48["pose"][3:].reshape(15, 3), p48["pose"][:3],
                                    p48["transl"]).vertices}
    for i, rid in enumerate(batch["id"]):
        np.testing.assert_allclose(batch["vertices"][i], expected[rid], atol=1e-6)
    [skipped] = report(tmp_path, "MOW", "train")["skipped_records"]
    assert skipped["id"] == "p30" and "expected 45 or 48 numbers" in skipped["reason"]


# ---------------------------------------------------------------------------- images


def test_images_are_cropped_padded_and_resized(tmp_path):
    hand = {"vertices": HAND}
    labels = np.zeros(778, bool)
    scene = np.zeros((30, 40, 3), np.uint8)
    scene[:] = BLUE
    scene[5:20, 10:25] = RED  # rows y 5..20, columns x 10..25
    write_record(tmp_path / "in", "crop", scene, hand, contacts=labels, crop=[10, 5, 25, 20])
    # A box reaching past the image is clamped to it.
    corner = np.full((30, 40, 3), BLUE, np.uint8)
    corner[:10, :12] = RED
    write_record(tmp_path / "in", "clamped", corner, hand, contacts=labels,
                 crop=[-20, -20, 12, 10])
    # A wide image with a centred white square: padding keeps it square, stretching would not.
    wide = np.zeros((32, 64, 3), np.uint8)
    wide[8:24, 24:40] = 255
    write_record(tmp_path / "in", "wide", wide, hand, contacts=labels)
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 128
    write_record(tmp_path / "in", "rgba", rgba, hand, contacts=labels)

    assert run(tmp_path, "MOW", "train", tmp_path / "in") == 0
    reader = SplitReader(split_dir(tmp_path, "MOW", "train"))
    images = dict(zip(reader.get_batch(range(4))["id"], reader.get_batch(range(4))["image"]))
    assert (images["crop"] == RED).all()
    assert (images["clamped"] == RED).all()
    assert (images["rgba"] == RED).all()
    white = images["wide"].min(axis=-1) > 128
    rows, cols = np.flatnonzero(white.any(axis=1)), np.flatnonzero(white.any(axis=0))
    # 64x32 padded to 64x64 then halved: the 16x16 square becomes 8x8 at the centre.
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (12, 19, 12, 19)
    assert (images["wide"][0] == 0).all()  # padding replicated the black top row


# ---------------------------------------------------------------------------- bad records

NAN_OBJ = "v 0 0 0\nv 0.1 0 nan\nv 0 0.1 0\nf 1 2 3\n"
NAN_HAND = HAND.copy()
NAN_HAND[17, 1] = np.nan

# id -> (record fields, a piece of the expected reason)
BAD_RECORDS = {
    "bad_image": ({"image": b"not a png at all"}, "image.png is not a readable image"),
    "no_image": ({"image": None}, "no image"),
    "no_hand": ({"hand": None}, "missing hand.npz"),
    "v700": ({"hand": {"vertices": HAND[:700]}}, "shape (700, 3)"),
    "nan_vertex": ({"hand": {"vertices": NAN_HAND}}, "NaN or inf (1 of 778 vertices"),
    "no_labels": ({"mesh": None}, "no labels"),
    "mano_params": ({"hand": {"pose": np.zeros(48)}}, "hand.mano_path is not set"),
    "empty_mesh": ({"mesh": ""}, "mesh.obj rejected: mesh is empty"),
    "nan_mesh": ({"mesh": NAN_OBJ}, "mesh.obj rejected: mesh vertices contain NaN"),
    "short_contacts": ({"mesh": None, "contacts": np.zeros(700, bool)},
                       "contacts.npy has shape (700,)"),
    "bad_crop": ({"crop": [100, 100, 200, 200]}, "crop.json box"),
}


def write_bad_record(input_dir, rid, rng):
    fields = {"image": random_image(rng, 30, 40), "hand": {"vertices": HAND},
              "mesh": touching_box(HAND), **BAD_RECORDS[rid][0]}
    write_record(input_dir, rid, **fields)


def test_bad_records_are_skipped_with_their_reason(tmp_path):
    rng = np.random.default_rng(4)
    good_input(tmp_path / "in", 4)
    for rid in BAD_RECORDS:
        write_bad_record(tmp_path / "in", rid, rng)

    # 11 bad of 15: tolerated at max_failures=0.75
    assert run(tmp_path, "MOW", "train", tmp_path / "in", "max_failures=0.75") == 0
    got = report(tmp_path, "MOW", "train")
    assert (got["records"], got["imported"], got["skipped"]) == (15, 4, 11)
    reasons = {s["id"]: s["reason"] for s in got["skipped_records"]}
    assert set(reasons) == set(BAD_RECORDS)
    for rid, (_, expected) in BAD_RECORDS.items():
        assert expected in reasons[rid], (rid, reasons[rid])
    assert len(SplitReader(split_dir(tmp_path, "MOW", "train"))) == 4


def test_too_many_failures_keep_the_previous_import(tmp_path, capsys):
    good_input(tmp_path / "first", 3, prefix="old")
    assert run(tmp_path, "MOW", "test", tmp_path / "first") == 0
    out = split_dir(tmp_path, "MOW", "test")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    rng = np.random.default_rng(5)
    good_input(tmp_path / "second", 2, prefix="new")
    for rid in ("v700", "no_labels"):
        write_bad_record(tmp_path / "second", rid, rng)
    assert run(tmp_path, "MOW", "test", tmp_path / "second") == 1  # 2 of 4 > 5%

    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []
    got = report(tmp_path, "MOW", "test")
    assert got["status"] == "failed" and got["output"] is None and got["skipped"] == 2
    err = capsys.readouterr().err
    assert "2 of 4 records skipped" in err and "v700: hand.npz vertices" in err


def test_too_many_failures_create_no_split(tmp_path, capsys):
    rng = np.random.default_rng(6)
    for rid in ("no_hand", "bad_image"):
        write_bad_record(tmp_path / "in", rid, rng)
    # Even a tolerance of 100% needs one imported record.
    assert run(tmp_path, "Hi4D", "test", tmp_path / "in", "max_failures=1.0") == 1
    assert not split_dir(tmp_path, "Hi4D", "test").exists()
    assert report(tmp_path, "Hi4D", "test")["imported"] == 0
    assert "none of the 2 records" in capsys.readouterr().err


def test_a_new_import_replaces_the_previous_one(tmp_path):
    good_input(tmp_path / "first", 3, prefix="old")
    good_input(tmp_path / "second", 2, prefix="new")
    assert run(tmp_path, "MOW", "test", tmp_path / "first") == 0
    assert run(tmp_path, "MOW", "test", tmp_path / "second") == 0
    out = split_dir(tmp_path, "MOW", "test")
    assert SplitReader(out).get_batch([0, 1])["id"] == ["new0", "new1"]
    assert len(SplitReader(out)) == 2 and (out / STATS_FILE).is_file()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []


def test_leftovers_of_a_killed_import_are_tidied(tmp_path):
    good_input(tmp_path / "first", 2, prefix="old")
    assert run(tmp_path, "MOW", "test", tmp_path / "first") == 0
    out = split_dir(tmp_path, "MOW", "test")
    # Killed between its two renames: the previous import sits aside, no split in place.
    pid = dead_pid()
    out.rename(out.with_name(f".test.retired-{pid}"))
    (out.parent / f".test.importing-{pid}" / "shard-00000").mkdir(parents=True)

    (tmp_path / "second" / "bad").mkdir(parents=True)  # a failing import
    assert run(tmp_path, "MOW", "test", tmp_path / "second") == 1
    assert SplitReader(out).get_batch([0, 1])["id"] == ["old0", "old1"]
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []


def test_a_crash_during_the_swap_loses_nothing(tmp_path, monkeypatch):
    good_input(tmp_path / "first", 2, prefix="old")
    good_input(tmp_path / "second", 2, prefix="new")
    assert run(tmp_path, "MOW", "test", tmp_path / "first") == 0
    out = split_dir(tmp_path, "MOW", "test")
    rename = importer.os.rename

    def crash_on_swap(src, dst):  # the process dies as the new split is renamed in
        if str(src).endswith(".test.importing"):  # the staging directory, renamed in
            raise KeyboardInterrupt
        rename(src, dst)

    monkeypatch.setattr(importer.os, "rename", crash_on_swap)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, "MOW", "test", tmp_path / "second")
    monkeypatch.undo()
    assert not out.exists()  # the crash window: the previous import is aside, not lost
    (tmp_path / "third" / "bad").mkdir(parents=True)
    assert run(tmp_path, "MOW", "test", tmp_path / "third") == 1
    assert SplitReader(out).get_batch([0, 1])["id"] == ["old0", "old1"]


# ---------------------------------------------------------------------------- wrong commands


@pytest.mark.parametrize("overrides, message", [
    (["dataset=NoSuchSet"], "unknown dataset 'NoSuchSet'"),
    (["dataset=synth:MOW"], "use the plain name 'MOW'"),
    (["dataset=InterHand2.6M", "split=test"], "InterHand2.6M has no split 'test'"),
    (["input=MISSING"], "is not a directory"),
    (["input=EMPTY"], "has no record directories"),
    (["max_failures=1.5"], "max_failures must be a share in [0, 1]"),
    (["hand.mano_path=/no/such/MANO_RIGHT.pkl"], "hand.mano_path /no/such/MANO_RIGHT.pkl"),
])
def test_a_wrong_command_exits_2_and_writes_nothing(tmp_path, capsys, overrides, message):
    good_input(tmp_path / "in", 1)
    (tmp_path / "empty").mkdir()
    paths = {"input=MISSING": f"input={tmp_path / 'missing'}",
             "input=EMPTY": f"input={tmp_path / 'empty'}"}
    overrides = [paths.get(o, o) for o in overrides]
    defaults = {"dataset": "MOW", "split": "train", "input": tmp_path / "in"}
    given = {o.split("=")[0] for o in overrides}
    base = [f"{k}={v}" for k, v in defaults.items() if k not in given]
    cfg = load_config("data_import", ["profile=smoke", f"data.root={tmp_path / 'data'}",
                                      *base, *overrides])
    assert importer.import_command(cfg) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "data").exists()
