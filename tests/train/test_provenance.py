"""haco.provenance: a run records the data it read (digests, sources, contexts), the
installed packages and the machine. (Here with the trainer's smoke twins; the module is
used by haco/sweep/trial.py.)"""

import json
from pathlib import Path

from haco import provenance, tracking
from haco.data import catalogue
from haco.ledger import Tag


def test_a_split_digest_is_cached_and_follows_the_content(smoke_cfg, tmp_path):
    import shutil

    split = catalogue.trial_splits(smoke_cfg()).test["synth:MOW"]
    copy = tmp_path / "copy"
    shutil.copytree(split, copy)
    (copy / provenance.DIGEST_CACHE).unlink(missing_ok=True)
    first = provenance.split_digest(copy)
    assert len(first) == 16 and (copy / provenance.DIGEST_CACHE).is_file()
    assert provenance.split_digest(copy) == first
    contacts = next(copy.glob("shard-*/contacts.npy"))
    data = bytearray(contacts.read_bytes())
    data[-1] ^= 1  # one label bit changed
    contacts.write_bytes(bytes(data))
    assert provenance.split_digest(copy) != first


def test_every_split_a_trial_reads_is_an_input_with_its_context(smoke_cfg):
    cfg = smoke_cfg("model.init=mean", "model.init_dataset=Decaf")
    inputs = provenance.dataset_inputs(cfg)
    seen = {(i.dataset.name, i.tags[0].value) for i in inputs}
    assert seen == {("synth:MOW/train", "training"), ("synth:HIC/train", "training"),
                    ("synth:Decaf/train", "training"), ("synth:MOW/val", "validation"),
                    ("synth:MOW/test", "test"), ("synth:HIC/test", "test"),
                    ("synth:Decaf/train", "init")}
    source = json.loads(inputs[0].dataset.source)
    assert inputs[0].dataset.source_type == "haco-twin" and len(source["recipe"]) == 12


def test_a_run_gets_inputs_environment_and_machine_tags(smoke_cfg, tmp_path):
    cfg = smoke_cfg(f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db")
    client = tracking.client(cfg)
    run_id = client.create_run(tracking.experiment_id(client, cfg, "losses")).info.run_id
    provenance.log_provenance(client, run_id, cfg)
    run = client.get_run(run_id)
    assert len(run.inputs.dataset_inputs) == 6
    assert {Tag.PYTHON, Tag.TORCH, Tag.CUDA, Tag.GPU_COUNT, Tag.CPU} <= set(run.data.tags)
    packages = client.download_artifacts(run_id, "environment.txt", str(tmp_path))
    lines = Path(packages).read_text().splitlines()
    assert any(line.startswith("torch==") for line in lines)
    assert any(line.startswith("mlflow==") for line in lines)
