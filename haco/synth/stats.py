"""`haco data stats`: how faithful the twins are, in figures and Figure-1-style pictures.

Per twin: the measured non-contact:contact vertex ratio beside its target, the share of
fully non-contact samples, and where contact falls on the hand (share of contact
vertices per region), from the shards' cached statistics.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from haco.atomic import save_figure, write_json
from haco.data import shards
from haco.data.catalogue import split_dir
from haco.paths import data_root
from haco.synth.layout import selected_twins, synth_dir

REGION_GROUPS = {  # coarse groups of the hand's regions, for a readable pattern summary
    "tips": ("thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip"),
    "pads": ("finger_pads",), "palm": ("palm",), "backs": ("finger_backs",),
    "dorsum": ("dorsum",), "sides": ("sides",),
}


def region_shares(contact_counts: np.ndarray, regions: dict) -> dict[str, float]:
    """Share of all contact labels that fall in each region group."""
    total = max(contact_counts.sum(), 1)
    return {group: float(sum(contact_counts[regions[r]].sum() for r in names) / total)
            for group, names in REGION_GROUPS.items()}


def twin_stats(cfg) -> list[dict]:
    from haco.hand import load_hand

    hand = load_hand(cfg.hand.mano_path)
    rows = []
    for twin in selected_twins(cfg):
        path = split_dir(cfg, twin.name, "train")
        stats = shards.ensure_stats(path)
        measured = float(stats["noncontact_ratio"])
        calibration = json.loads((path.parent / "calibration.json").read_text())
        rows.append({
            "twin": twin.name, "group": twin.group, "threshold_m": twin.threshold,
            "samples": int(stats["num_samples"]),
            "target_ratio": twin.target_ratio, "ratio_source": twin.ratio_source,
            "measured_ratio": measured,
            "ratio_error": measured / twin.target_ratio - 1,
            "non_contact_share": stats["num_non_contact_samples"] / stats["num_samples"],
            "calibrated_share": calibration["non_contact_share"],
            "mixture_limited": not calibration["feasible"],
            "pattern": twin.pattern,
            "regions": region_shares(np.asarray(stats["vertex_counts"])[1], hand.regions),
            "contact_mean": np.asarray(stats["contact_mean"]).tolist(),
        })
    return rows


def print_table(rows: list[dict]) -> None:
    head = (f"{'twin':22} {'grp':3} {'thr':>5} {'n':>5} {'target':>7} {'measured':>8} "
            f"{'err':>6} {'noncont':>7}  contact share: tips pads palm backs dorsum sides")
    print(head)
    for r in rows:
        shares = " ".join(f"{r['regions'][g]:4.0%}" for g in REGION_GROUPS)
        flag = "*" if r["mixture_limited"] else " "
        print(f"{r['twin']:22} {r['group']:3} {r['threshold_m'] * 100:4.1f}c {r['samples']:5d} "
              f"{r['target_ratio']:7.2f} {r['measured_ratio']:8.2f} {r['ratio_error']:+6.0%} "
              f"{r['non_contact_share']:6.0%}{flag}  {shares}")
    print("* mixture-limited: even with no non-contact samples the mixture has fewer contacts "
          "than the target asks for")


def ratio_figure(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["twin"].removeprefix("synth:") for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(11, 4))
    ax.bar(x - 0.2, [r["target_ratio"] for r in rows], 0.4, label="target", color="#bbbbbb")
    ax.bar(x + 0.2, [r["measured_ratio"] for r in rows], 0.4, label="twin", color="#377eb8")
    ax.set_xticks(x, names, rotation=45, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("non-contact : contact (vertices)")
    ax.set_title("Class imbalance of the synthetic twins (cf. paper Figure 1 / A1)")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, out, dpi=110)
    plt.close(fig)


def heatmap_figure(rows: list[dict], hand, out: Path) -> None:
    """Mean contact per vertex on the hand, palmar and dorsal, one pair per twin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from haco.hand.drawing import draw_mesh, value_face_colours

    cols = 4
    fig = plt.figure(figsize=(cols * 4, 2.3 * ((len(rows) + cols - 1) // cols)))
    for k, row in enumerate(rows):
        mean = np.asarray(row["contact_mean"])
        colours = value_face_colours(hand, mean / max(mean.max(), 1e-9))
        for v, view in enumerate(("palmar", "dorsal")):
            ax = fig.add_subplot((len(rows) + cols - 1) // cols, 2 * cols, 2 * k + v + 1,
                                 projection="3d")
            draw_mesh(ax, hand.vertices, hand.faces, colours, view)
            ax.set_title(f"{row['twin'].removeprefix('synth:')} {view}" if v == 0 else view,
                         fontsize=8)
    fig.suptitle("Mean contact per vertex (normalised per twin; cf. paper Figures A2, A3)")
    fig.tight_layout()
    save_figure(fig, out, dpi=90)
    plt.close(fig)


def stats_command(cfg) -> int:
    from haco.hand import load_hand

    if not synth_dir(cfg).is_dir():
        print(f"no twins under {synth_dir(cfg)}: run `haco data synth profile={cfg.profile}`")
        return 1
    rows = twin_stats(cfg)
    print_table(rows)
    root = data_root(cfg.data.root)
    write_json(root / "stats.json", {"profile": cfg.profile, "twins": rows})
    figures = root / "figures"
    figures.mkdir(exist_ok=True)
    ratio_figure(rows, figures / "ratios.png")
    heatmap_figure(rows, load_hand(cfg.hand.mano_path), figures / "heatmaps.png")
    print(f"wrote {root / 'stats.json'}, {figures / 'ratios.png'}, {figures / 'heatmaps.png'}")
    return 0
