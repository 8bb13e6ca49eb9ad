"""Evaluation of a model (haco.metrics): validation and tests.

Both average per-sample figures under `eval.protocol` (`protocol_of`): "paper" skips fully
non-contact samples, "release" averages every sample with undefined values as 0, as the
authors' released test code. The release has no validation; ours follows the same switch
so that a run reports one kind of figure throughout. That changes no choice made on
validation: under "release" a non-contact sample adds 0 at every threshold, so F1 is the
paper's times a constant and peaks at the same threshold (bar ties made by rounding).
"""

from __future__ import annotations

import contextlib

import torch
from omegaconf import OmegaConf

from haco.metrics import SWEEP_THRESHOLDS, ContactMeter
from haco.metrics import decision_threshold as released_threshold

FROM_VALIDATION = "val"  # model.threshold: chosen where validation F1 peaks


def chooses_on_validation(cfg) -> bool:
    return str(cfg.model.threshold) == FROM_VALIDATION


def protocol_of(cfg) -> str:
    """`eval.protocol`; "paper" for a config saved before the switch existed (an older
    checkpoint's), which is what such runs were evaluated with."""
    return str(OmegaConf.select(cfg, "eval.protocol", default="paper"))


def decision_threshold(cfg, history: list[dict] | None = None) -> float:
    """`model.threshold`: a number as it is; `val`: the threshold where F1 on the
    validation mix peaked at the last epoch (`history`'s `val/best_threshold`; the
    input-blind Vertex prior is thresholded the same way, so the two compare fairly);
    null: the backbone's released threshold (the paper's protocol)."""
    if chooses_on_validation(cfg):
        if not history or "val/best_threshold" not in history[-1]:
            raise ValueError("model.threshold=val needs validation (data.val) and a trained "
                             "epoch; set model.threshold to a number or null otherwise")
        return float(history[-1]["val/best_threshold"])
    return float(cfg.model.threshold or released_threshold(str(cfg.model.backbone)))


@torch.no_grad()
def evaluate(model, loader, device: torch.device, threshold: float, regions=None,
             sweep: bool = False, autocast=contextlib.nullcontext,
             protocol: str = "paper") -> tuple[dict, ContactMeter]:
    """Metrics {precision, recall, f1, count, <region>/...} at `threshold`, averaged under
    `protocol` (regions: the paper's rule); with `sweep`, the meter also holds every
    threshold of SWEEP_THRESHOLDS."""
    thresholds = (threshold, *SWEEP_THRESHOLDS) if sweep else (threshold,)
    meter = ContactMeter(thresholds=thresholds, regions=regions, protocol=protocol)
    model.eval()
    for batch in loader:
        with autocast():
            logits = model(batch["image"].to(device, non_blocking=True))[778]
        meter.update(torch.sigmoid(logits.float()), batch["contacts"])
    return meter.compute(), meter


def test_metrics(model, cfg, device: torch.device, threshold: float,
                 autocast=contextlib.nullcontext, heatmaps: dict | None = None) -> dict[str, float]:
    """`test/<dataset>/{precision,recall,f1,count}` and per-region `test/<dataset>/<region>/*`
    on every set of `data.test` (names without the `synth:` prefix, as in the paper),
    averaged under `eval.protocol`. A `heatmaps` dict receives each test set's mean
    predicted contact per vertex."""
    from haco.data.catalogue import dataset_names, split_dirs
    from haco.data.loader import build_loader, specs_for
    from haco.hand import load_hand

    regions = load_hand(cfg.hand.mano_path).regions
    out = {}
    for name in split_dirs(cfg, dataset_names(cfg, "test"), "test"):
        loader, _ = build_loader(cfg, specs_for(cfg, [name], "test"), "test", train=False)
        metrics, meter = evaluate(model, loader, device, threshold, regions, autocast=autocast,
                                  protocol=protocol_of(cfg))
        paper_name = name.split(":")[-1]
        if heatmaps is not None:
            heatmaps[paper_name] = meter.mean_probs()
        out.update({f"test/{paper_name}/{k}": v for k, v in metrics.items()})
    return out


def without_empty_regions(metrics: dict) -> dict:
    """The metrics as MLflow should get them: the precision, recall and F1 of a region no
    counted test sample touches are undefined (NaN, which MLflow's UI drops without
    notice), so they are left out, and `test/<set>/regions_evaluated` says how many regions
    of each test set have them. A region's `count` (0 there) stays."""
    counts = {k[:-len("/count")]: v for k, v in metrics.items()
              if k.startswith("test/") and k.count("/") == 3 and k.endswith("/count")}
    empty = {region for region, count in counts.items() if not count}
    kept = {k: v for k, v in metrics.items()
            if k.rpartition("/")[0] not in empty or k.endswith("/count")}
    for region in counts:
        key = f"{region.rpartition('/')[0]}/regions_evaluated"
        kept[key] = kept.get(key, 0) + (region not in empty)
    return kept
