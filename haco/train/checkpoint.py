"""Per-epoch checkpoints: written atomically, loaded with `weights_only=True`.

A checkpoint holds the model, optimizer and scheduler states, the completed epoch, the
history of epoch metrics and the training seconds so far, plus the resolved config (as
plain containers) so `haco eval` and `haco predict` can rebuild the model from it alone.
Resuming restarts at the epoch after the last completed one; every source of randomness
is a function of (seed, epoch), so the resumed run reproduces the uninterrupted one.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import torch

from haco import disk
from haco.atomic import write_with

LAST = "last.pt"


CHECKPOINT_KEY = "train.out_dir=... (a launch: sweep.storage_path=...)"


def save_checkpoint(path: Path, state: dict) -> Path:
    """torch.save into a temp file beside `path`, then rename: never a half-written file;
    a full disk is a one-line DiskFullError (the previous checkpoint stays)."""
    with disk.on_full(path, tensor_bytes(state), moved_by=CHECKPOINT_KEY):
        return write_with(path, lambda tmp: torch.save(state, tmp))


def tensor_bytes(state) -> int:
    """Bytes of the tensors in a (nested) state: what its file holds, about."""
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, dict):
        return sum(tensor_bytes(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return sum(tensor_bytes(v) for v in state)
    return 0


def load_checkpoint(path) -> dict:
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}; train one with `haco train` "
                                "(it writes <out_dir>/last.pt every epoch)")
    return torch.load(path, map_location="cpu", weights_only=True)


def load_trained(path):
    """(model in eval mode, the checkpoint's config) from a `haco train` checkpoint; the
    backbone's pretrained file is not needed: the checkpoint holds every weight. A
    threshold the run chose on validation (`model.threshold=val`) comes back as the
    number it chose."""
    from omegaconf import OmegaConf

    from haco.model import model_from_config
    from haco.train.evaluate import chooses_on_validation, decision_threshold

    saved = load_checkpoint(path)
    cfg = OmegaConf.create(saved["config"])
    if chooses_on_validation(cfg):
        cfg.model.threshold = decision_threshold(cfg, saved["history"])
    model = model_from_config(OmegaConf.merge(cfg, {"model": {"pretrained": None}}))
    model.load_state_dict(saved["model"])
    return model.eval(), cfg


def checkpoint_bytes(cfg) -> int:
    """A trial's checkpoint (model + AdamW state), from its model's parameter count."""
    from omegaconf import OmegaConf

    model = {k: v for k, v in OmegaConf.to_container(cfg.model, resolve=True).items()
             if k not in ("pretrained", "threshold", "init_mean")}
    return disk.checkpoint_bytes(parameter_count(json.dumps(model, sort_keys=True),
                                                 cfg.hand.mano_path, tuple(cfg.loss.levels)))


@functools.cache
def parameter_count(model: str, mano_path: str | None, levels: tuple[int, ...]) -> int:
    """Parameters of the model a `model` config (JSON) builds, counted on the meta device
    (no memory, no weights read); once per model, as a study's trials mostly share one."""
    import numpy as np
    import torch
    from omegaconf import OmegaConf

    from haco.model import model_from_config

    cfg = OmegaConf.create({"model": {**json.loads(model), "pretrained": None},
                            "hand": {"mano_path": mano_path}, "loss": {"levels": list(levels)}})
    mean = np.full(778, 0.1, np.float32) if cfg.model.init == "mean" else None  # any map
    with torch.device("meta"):
        built = model_from_config(cfg, init_mean=mean)
    return sum(p.numel() for p in built.parameters())
