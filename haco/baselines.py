"""Input-blind baselines: the floor a trained model must clear, computed without training.

    All contact    every vertex predicted in contact (probability 1 everywhere)
    Vertex prior   the training mix's per-vertex contact frequency (the map of
                   haco.train.data.label_stats that the `reg` loss pulls towards), in contact
                   where it is >= a threshold: the prior value with the best F1 on the
                   validation splits (`data.val`), never on a test split
    Dataset prior  each sample scored with its own dataset's training contact frequency,
                   one threshold chosen the same way: it knows which dataset a picture
                   comes from (a model can learn that from the capture style) and nothing
                   of the picture. Only where every validation set and the test set are in
                   the training mix (otherwise no value on that set)

They are scored under the trials' `eval.protocol` (haco.metrics.contact_prf; the paper's
unless fidelity=release, which makes it part of the data key) on exactly the splits a
trial reads: a trained row that does not beat them has learned nothing from the image that
a constant prediction does not give (haco/report/floor.py states the rule).

MLflow, in the study's experiment: one FINISHED run per data key (haco.config.data_key) and
baseline, named `baseline: <name>`; tags haco.kind=baseline, haco.baseline,
haco.{study,profile,data,data_key}, haco.baseline_version, haco.baseline.threshold_on, git.*,
and never haco.row, so neither the launcher nor the reports count it as a trial; params the
data keys; metrics test/<set>/{precision,recall,f1,count}, val/{precision,recall,f1,count}
and, for the Vertex prior, baseline/threshold. A FINISHED run of the same data key, baseline
and version is reused, never logged twice.

Run: haco baselines study=<study> [profile=quick other overrides]   (every launch does it too)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from haco import ledger, tracking
from haco.config import DATA_KEYS, SCORING_KEYS, data_key
from haco.ledger import Kind, Status, Tag
from haco.metrics import contact_prf, threshold_sweep
from haco.train.evaluate import protocol_of

NAMES = ("All contact", "Vertex prior", "Dataset prior")
VERSION = "1"  # bump when what a baseline computes changes: older cached runs are then redone
THRESHOLD = "baseline/threshold"
ALL_CONTACT_THRESHOLD = 0.5  # any threshold in (0, 1] predicts every vertex of probability 1
SWEEP_ELEMENTS = 40_000_000  # thresholds x samples x vertices per sweep step (memory bound)


@dataclass(frozen=True)
class Labels:
    """The contact labels of one data key."""

    train: dict[str, Path]       # dataset (paper name) -> its training split directory
    val_sets: dict[str, np.ndarray]  # dataset -> (N, 778) bool validation labels
    test: dict[str, np.ndarray]  # test set (paper name) -> (N, 778) bool

    @property
    def train_dirs(self) -> list[Path]:
        return list(self.train.values())

    @property
    def val(self) -> np.ndarray:
        """(N_val, 778): every validation split stacked."""
        return np.concatenate(list(self.val_sets.values())) if self.val_sets \
            else np.zeros((0, 778), bool)


@dataclass(frozen=True)
class Baseline:
    name: str                    # All contact | Vertex prior
    metrics: dict[str, float]    # test/<set>/*, val/*, baseline/threshold
    threshold_on: str = "-"      # the labels its threshold was chosen on: val | train | -


@dataclass
class DataBaselines:
    """The baselines of one data key, as logged in MLflow."""

    key: str                     # haco.config.data_key
    train: str                   # the training mix, e.g. HS+HO (a label when mixes differ)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # name -> metrics
    computed: int = 0            # runs logged by this call (0: all reused)

    def floor(self, test: str) -> tuple[float, str] | None:
        """(the better F1 on `test`, that baseline's name), or None without one."""
        scores = [(m.get(f"test/{test}/f1", math.nan), name) for name, m in self.metrics.items()]
        scores = [s for s in scores if not math.isnan(s[0])]
        return max(scores) if scores else None


# ---------------------------------------------------------------------------- compute


def contacts(split_dirs) -> np.ndarray:
    """(N, 778) bool labels of the given splits, stacked (N = 0 for none)."""
    from haco.data.shards import SplitReader

    matrices = [SplitReader(d).contacts_matrix() for d in split_dirs]
    return np.concatenate(matrices) if matrices else np.zeros((0, 778), bool)


def read_labels(cfg: DictConfig) -> Labels:
    """The labels a trial of `cfg` reads (a split not there yet, twin or real, raises
    FileNotFoundError naming it and the command that makes it)."""
    from haco.data.catalogue import dataset_names, split_dirs

    def by_name(dirs):
        return {name.split(":")[-1]: d for name, d in dirs.items()}
    train = split_dirs(cfg, dataset_names(cfg, "train"), "train")
    val_names = dataset_names(cfg, "val")
    val = split_dirs(cfg, val_names, "val") if val_names else {}
    test = split_dirs(cfg, dataset_names(cfg, "test"), "test")
    return Labels(by_name(train), {n: contacts([d]) for n, d in by_name(val).items()},
                  {n: contacts([d]) for n, d in by_name(test).items()})


def vertex_prior(cfg: DictConfig, train_dirs: list[Path]) -> np.ndarray:
    """(778,) float32: each vertex's contact frequency over the training mix, as the
    trainer computes it. float32, like a model's probabilities: every threshold tried is
    then exactly one of its values, in the sweep and in the final score alike."""
    from haco.hand import load_hand
    from haco.train.data import label_stats

    stats = label_stats(train_dirs, load_hand(cfg.hand.mano_path).regressors)
    return np.asarray(stats.contact_mean, dtype=np.float32)


def constant(probs: np.ndarray, n: int) -> torch.Tensor:
    """(n, 778): the same (778,) probabilities for every sample (a view, not n copies), or
    a per-sample (n, 778) array as it is."""
    return torch.from_numpy(np.ascontiguousarray(probs)).expand(n, -1)


def best_threshold(prior: np.ndarray, labels: np.ndarray) -> float:
    """The value t of `prior` (778,), or of a per-sample prior (N, 778), whose prediction
    `prior >= t` has the best F1 on `labels` (N, 778): every distinct value is tried, so
    the optimum is exact; the lowest wins a tie. Raises ValueError when no sample of
    `labels` has contact (no F1 to rank)."""
    candidates = [float(t) for t in np.unique(prior)]  # ascending
    probs = constant(prior, len(labels))
    step = max(1, SWEEP_ELEMENTS // max(labels.size, 1))
    best, best_f1 = candidates[0], -math.inf
    for start in range(0, len(candidates), step):
        for row in threshold_sweep(probs, labels, candidates[start:start + step]):
            if row["f1"] > best_f1:  # NaN (no contact sample) never wins
                best, best_f1 = row["threshold"], row["f1"]
    if best_f1 == -math.inf:
        raise ValueError("the Vertex prior threshold is chosen on samples with contact, and "
                         f"these {len(labels)} samples have none: give data.val splits that "
                         "contain contact")
    return best


def score(probs: np.ndarray, labels: np.ndarray, threshold: float, prefix: str,
          protocol: str = "paper") -> dict:
    """`<prefix>/{precision,recall,f1,count}` of `probs` (778,) on `labels` (N, 778),
    averaged under `protocol` (`eval.protocol`, as the trials of the same config)."""
    found = contact_prf(constant(probs, len(labels)), labels, threshold, protocol)
    return {f"{prefix}/{k}": float(v) for k, v in found.items()}


def evaluate(probs: np.ndarray, labels: Labels, threshold: float,
             protocol: str = "paper") -> dict[str, float]:
    """Test metrics on every test set, and validation metrics when there are val splits."""
    metrics = {}
    for name, test in labels.test.items():
        metrics.update(score(probs, test, threshold, f"test/{name}", protocol))
    if len(labels.val):
        metrics.update(score(probs, labels.val, threshold, "val", protocol))
    return metrics


def compute(cfg: DictConfig) -> list[Baseline]:
    """Both baselines on the data of `cfg` (a trial's config): seconds, no training."""
    labels = read_labels(cfg)
    prior = vertex_prior(cfg, labels.train_dirs)
    # Validation labels choose the threshold; without val splits the training labels do
    # (still never a test label).
    on = "val" if len(labels.val) else "train"
    threshold = best_threshold(prior, labels.val if on == "val" else contacts(labels.train_dirs))
    everything = np.ones(prior.shape, np.float32)
    protocol = protocol_of(cfg)  # a threshold's rank is the same under either protocol
    found = [Baseline("All contact",
                      evaluate(everything, labels, ALL_CONTACT_THRESHOLD, protocol)),
             Baseline("Vertex prior", {**evaluate(prior, labels, threshold, protocol),
                                       THRESHOLD: threshold}, on)]
    return found + dataset_prior(cfg, labels)


def dataset_prior_applies(cfg: DictConfig) -> bool:
    """Whether every validation set and at least one test set are in the training mix: the
    Dataset prior needs each scored sample's own dataset's training frequency."""
    from haco.data.catalogue import dataset_names

    train = set(dataset_names(cfg, "train"))
    return (set(dataset_names(cfg, "val")) <= train
            and bool(train & set(dataset_names(cfg, "test"))))


def own_priors(cfg: DictConfig, labels: Labels) -> dict[str, np.ndarray]:
    """{training set: its own (778,) contact frequency}: the Dataset prior's maps."""
    return {name: vertex_prior(cfg, [folder]) for name, folder in labels.train.items()}


def stacked(priors: dict[str, np.ndarray], sets: dict[str, np.ndarray]
            ) -> tuple[np.ndarray, np.ndarray]:
    """(per-sample prior, labels), both (N, 778), of `sets` (dataset -> labels), each
    sample scored with its own dataset's map."""
    probs = [np.broadcast_to(priors[name], labels.shape) for name, labels in sets.items()]
    return np.concatenate(probs), np.concatenate(list(sets.values()))


def dataset_prior(cfg: DictConfig, labels: Labels) -> list[Baseline]:
    """[the Dataset prior], or [] where it does not apply (`dataset_prior_applies`)."""
    if not dataset_prior_applies(cfg):
        return []
    priors = own_priors(cfg, labels)
    chooser = labels.val_sets if labels.val_sets else {
        name: contacts([folder]) for name, folder in labels.train.items()}
    per_sample, chosen = stacked(priors, chooser)
    threshold = best_threshold(per_sample, chosen)
    metrics, protocol = {THRESHOLD: threshold}, protocol_of(cfg)
    for name, test in labels.test.items():
        if name in priors:
            metrics.update(score(priors[name], test, threshold, f"test/{name}", protocol))
    if labels.val_sets:
        found = contact_prf(per_sample, chosen, threshold, protocol)
        metrics.update({f"val/{k}": float(v) for k, v in found.items()})
    return [Baseline("Dataset prior", metrics, "val" if labels.val_sets else "train")]


# ---------------------------------------------------------------------------- MLflow


def cached(client, experiment_id: str, key: str) -> dict[str, object]:
    """{baseline name: newest FINISHED run} of data `key` at this VERSION."""
    query = ledger.both(ledger.BASELINES, ledger.tag_is(Tag.DATA_KEY, key),
                        ledger.tag_is(Tag.BASELINE_VERSION, VERSION),
                        ledger.status_is(Status.FINISHED))
    found: dict[str, object] = {}
    for run in ledger.runs(client, experiment_id, query, newest_first=True):
        found.setdefault(run.data.tags.get(Tag.BASELINE), run)
    return found


def run_tags(cfg: DictConfig, study: str, baseline: Baseline) -> dict[str, str]:
    return {Tag.KIND: Kind.BASELINE, Tag.BASELINE: baseline.name, Tag.STUDY: study,
            Tag.PROFILE: str(cfg.profile), Tag.DATA: str(cfg.data.source),
            Tag.DATA_KEY: data_key(cfg), Tag.BASELINE_VERSION: VERSION,
            Tag.BASELINE_THRESHOLD_ON: baseline.threshold_on, **ledger.git_state()}


def log(client, experiment_id: str, cfg: DictConfig, study: str, baseline: Baseline) -> str:
    """One FINISHED run holding `baseline` (computed beforehand); its id. Should logging
    fail, the run ends FAILED: a cache lookup never mistakes it for a result."""
    run_id = ledger.create(client, experiment_id, f"baseline: {baseline.name}",
                           run_tags(cfg, study, baseline))
    try:
        scored = {k: _text(OmegaConf.select(cfg, k, default=first))
                  for k, first in SCORING_KEYS.items()}
        tracking.log_dict_params(client, run_id, {**{k: _text(OmegaConf.select(cfg, k))
                                                     for k in DATA_KEYS}, **scored})
        tracking.log_metrics(client, run_id, baseline.metrics)
    except BaseException as err:
        ledger.fail(client, run_id, f"{type(err).__name__}: {err}")
        raise
    ledger.finish(client, run_id)
    return run_id


def mix(train) -> str:
    """`data.train` as Table 4 prints a mix: [HS, HO] -> HS+HO; all -> all."""
    return "+".join(map(str, train)) if OmegaConf.is_list(train) else str(train)


def _text(value) -> str:
    return str(OmegaConf.to_container(value) if OmegaConf.is_config(value) else value)


def ensure(client, experiment_id: str, study: str,
           configs: list[DictConfig]) -> dict[str, DataBaselines]:
    """{data key: its baselines} for the data of `configs` (trials' configs; one
    computation per distinct data key), computing and logging only what MLflow lacks."""
    firsts: dict[str, DictConfig] = {}
    for cfg in configs:
        firsts.setdefault(data_key(cfg), cfg)
    out = {}
    for key, cfg in firsts.items():
        runs = cached(client, experiment_id, key)
        missing = [name for name in NAMES if name not in runs
                   and (name != "Dataset prior" or dataset_prior_applies(cfg))]
        logged = 0
        if missing:  # compute everything before creating a run
            fresh = {b.name: b for b in compute(cfg)}
            for name in (n for n in missing if n in fresh):  # the Dataset prior may not apply
                run_id = log(client, experiment_id, cfg, study, fresh[name])
                runs[name], logged = client.get_run(run_id), logged + 1
        out[key] = DataBaselines(key, mix(cfg.data.train),
                                 {name: dict(runs[name].data.metrics) for name in NAMES
                                  if name in runs}, logged)
    return out
