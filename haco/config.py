"""Compose a command's Hydra config from `key=value` overrides, with readable errors."""

from __future__ import annotations

from hydra import compose, initialize_config_module
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from haco.synth import GENERATOR_VERSION


class ConfigError(ValueError):
    """A configuration the user asked for cannot be built; the message says how to fix it."""


FIDELITIES = ("paper", "release")


def paper_or_release(paper, release, *, _root_):
    """`${paper_or_release:<paper value>,<release value>}`: a switch's default under the
    config's `fidelity` (the paper's text, ours where it is silent | the authors' released
    code; every switch: docs/fidelity.md). A switch set explicitly wins."""
    fidelity = _root_.get("fidelity", "paper")
    if fidelity not in FIDELITIES:
        raise ValueError(f"fidelity must be one of {list(FIDELITIES)}, got {fidelity!r}")
    return paper if fidelity == "paper" else release


if not OmegaConf.has_resolver("paper_or_release"):
    OmegaConf.register_new_resolver("paper_or_release", paper_or_release)


def load_config(name: str, overrides: list[str] | tuple[str, ...] = (),
                config_file: str | None = None) -> DictConfig:
    """Compose `haco/conf/<name>.yaml` with Hydra overrides and resolve it; with
    `config_file` (a config a run saved), that file is the base instead of the defaults.

    Unknown keys and malformed overrides raise ConfigError before anything runs.
    """
    bad = [o for o in overrides if "=" not in o]
    if bad:
        raise ConfigError(f"overrides must look like key=value, got {bad}")
    if config_file is not None:
        return from_file(name, list(overrides), config_file)
    return _compose(name, list(overrides))


def _compose(name: str, overrides: list[str]) -> DictConfig:
    try:
        with initialize_config_module(config_module="haco.conf", version_base=None):
            cfg = compose(config_name=name, overrides=overrides)
        OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError(f"bad configuration for '{name}': {err}") from None
    return cfg


def from_file(name: str, overrides: list[str], path: str) -> DictConfig:
    """A saved config (a run's config.yaml, a search's best config) with the command
    line's overrides on top. The file must fit `name`'s schema: a key it does not know is
    an error, a key the file lacks (a newer option) takes its default."""
    import yaml

    try:
        saved = OmegaConf.load(path)
    except FileNotFoundError:
        raise ConfigError(f"--config-file {path}: no such file") from None
    except (yaml.YAMLError, OmegaConfBaseException) as err:
        raise ConfigError(f"--config-file {path}: not a YAML config: {err}") from None
    if not isinstance(saved, DictConfig) or "profile" not in saved or "loss" not in saved:
        raise ConfigError(f"--config-file {path}: not a saved haco config (it needs the "
                          "keys profile and loss, as every run's config.yaml has)")
    groups = [f"profile={saved.profile}", f"loss={saved.loss.name}"]
    defaults, asked = _compose(name, groups), _compose(name, groups + overrides)
    before = _leaves(defaults)
    changed = OmegaConf.from_dotlist([f"{k}={v}" for k, v in _leaves(asked).items()
                                      if before.get(k) != v])  # what the overrides set
    OmegaConf.set_struct(defaults, True)
    try:
        return OmegaConf.merge(defaults, saved, changed)
    except OmegaConfBaseException as err:
        raise ConfigError(f"--config-file {path} does not fit the '{name}' config: {err}"
                          ) from None


def _leaves(cfg: DictConfig) -> dict[str, object]:
    """{dotted key: YAML value text} of every leaf."""
    import json

    def walk(node, prefix):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from walk(value, f"{prefix}{key}.")
        else:
            yield prefix[:-1], json.dumps(node)
    return dict(walk(OmegaConf.to_container(cfg, resolve=True), ""))


# Keys that change where or how fast a run goes, never what it computes.
RUNTIME_KEYS = ("data.root", "data.workers", "loader.workers", "loader.prefetch_factor",
                "train.out_dir", "train.resume", "train.progress", "train.threads",
                "train.compile", "mlflow.tracking_uri", "mlflow.artifact_root",
                "mlflow.outage_seconds")


# Switches added after runs existed, with the value that reproduces what those runs did:
# hashed only when set otherwise, so adding an option never orphans finished runs.
# `fidelity` is never hashed: it acts only through the switches it resolves.
LATER_KEYS = {"eval.protocol": "paper", "loader.bcs.scope": "pooled",
              "loader.bcs.edges": "paper", "model.init_std": 0.0,
              "loss.smooth_variant": "ours"}


def _drop(plain: dict, dotted: str, prune: bool = False) -> None:
    """Remove a dotted key; with `prune`, a section it leaves empty too (a later key's new
    section hashes as if it had never existed; runtime keys keep their empty sections,
    as every hash so far was made that way)."""
    head, _, rest = dotted.partition(".")
    if not rest:
        plain.pop(head, None)
    elif isinstance(plain.get(head), dict):
        _drop(plain[head], rest, prune)
        if prune and not plain[head]:
            del plain[head]


def digest(value) -> str:
    """12 hex digits naming a JSON-able value (a config, a recipe): the one content key
    behind config hashes, data keys and the caches of twins and pretraining."""
    import hashlib
    import json

    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def config_hash(cfg: DictConfig, with_seed: bool = False) -> str:
    """12 hex digits identifying what a run computes: the resolved config minus runtime
    keys (paths, workers, threads) and, unless `with_seed`, the seed, so the seeds of one
    configuration share a hash (MLflow tag `haco.config_hash`).

    Runs on synthetic twins also carry the generator's version: a new generator makes new
    images and labels under the same config, and a launch must not take a run FINISHED on
    the old twins for done (nor resume its checkpoint)."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    if OmegaConf.select(cfg, "model.pretrained") != "twin":
        plain.pop("pretrain", None)  # the twin-pretraining recipe matters only to its users
    plain.update(generator_key(cfg))
    for dotted in RUNTIME_KEYS + ("fidelity",) + (() if with_seed else ("seed",)):
        _drop(plain, dotted)
    for dotted, first in LATER_KEYS.items():
        if OmegaConf.select(cfg, dotted, default=first) == first:
            _drop(plain, dotted, prune=True)
    return digest(plain)


# Keys that decide the contact labels a trial reads: its splits, their sizes, the hand.
# Not paths (data.root) nor worker counts: they change where the labels are, not what.
DATA_KEYS = ("profile", "data.source", "data.seed", "data.train", "data.val", "data.test",
             "data.twin_scale", "data.twin_min", "data.twin_max", "data.test_size",
             "data.val_size", "hand.mano_path")


# Keys that decide how the input-blind baselines of those labels are scored: part of the
# data key only when set otherwise than their first value, so existing data keys stand.
SCORING_KEYS = {"eval.protocol": "paper"}


def data_key(cfg: DictConfig) -> str:
    """12 hex digits identifying the labels a trial trains, validates and tests on (MLflow
    tag `haco.data_key` of trials and of the input-blind baselines of the same data).

    Synthetic twins also carry their generator's version: a new generator makes new labels
    under the same config, and baselines cached for the old ones must not be reused."""
    values = {key: OmegaConf.select(cfg, key, default=None) for key in DATA_KEYS}
    values = {key: OmegaConf.to_container(v) if OmegaConf.is_config(v) else v
              for key, v in values.items()}
    for key, first in SCORING_KEYS.items():  # baselines are scored as the trials are
        if OmegaConf.select(cfg, key, default=first) != first:
            values[key] = OmegaConf.select(cfg, key)
    return digest({**values, **generator_key(cfg)})


def generator_key(cfg: DictConfig) -> dict:
    """{"generator": version} for runs on synthetic twins, {} for real data: part of the
    config hash and the data key, so results on older twins are never taken for new ones."""
    if OmegaConf.select(cfg, "data.source") != "synthetic":
        return {}
    return {"generator": GENERATOR_VERSION}
