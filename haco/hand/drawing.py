"""Pictures of the hand: per-vertex values or regions painted on the mesh (matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from haco import atomic

REGION_COLOURS = {
    "thumb_tip": "#e41a1c", "index_tip": "#ff7f00", "middle_tip": "#ffd92f",
    "ring_tip": "#a65628", "pinky_tip": "#f781bf", "finger_pads": "#4daf4a",
    "finger_backs": "#984ea3", "palm": "#377eb8", "dorsum": "#999999", "sides": "#66c2a5",
}
# Camera elevations/azimuths that look at the palmar (-z) and dorsal (+z) sides.
VIEWS = {"palmar": (-90, 90), "dorsal": (90, -90)}


def _shade(vertices, faces, colours, view_dir):
    """Lambert-shade per-face RGB colours for a light coming from the viewer."""
    tri = vertices[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    light = 0.35 + 0.65 * np.clip(n @ view_dir, 0, 1)
    return np.clip(colours * light[:, None], 0, 1)


def draw_mesh(ax, vertices, faces, face_rgb, view: str) -> None:
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    elev, azim = VIEWS[view]
    view_dir = np.array([0.0, 0.0, -1.0 if view == "palmar" else 1.0])
    poly = Poly3DCollection(vertices[faces], facecolors=_shade(vertices, faces, face_rgb, view_dir),
                            edgecolors=(0, 0, 0, 0.15), linewidths=0.2)
    ax.add_collection3d(poly)
    lo, hi = vertices.min(0), vertices.max(0)
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2
    for setter, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), centre):
        setter(c - half, c + half)
    ax.view_init(elev=elev, azim=azim)
    ax.set_axis_off()
    ax.set_title(view)


def region_face_colours(hand) -> np.ndarray:
    from matplotlib.colors import to_rgb

    names = hand.region_of()
    # A face takes the region of its first vertex: crisp borders, no blending.
    return np.array([to_rgb(REGION_COLOURS[names[f[0]]]) for f in hand.faces])


VALUE_CMAP = "inferno"  # per-vertex values in [0, 1]; `save_figure(scale=...)` draws its bar


def value_face_colours(hand, values, cmap=VALUE_CMAP) -> np.ndarray:
    """Per-vertex values in [0, 1] (a contact probability or mean) to per-face colours."""
    import matplotlib

    face_values = np.asarray(values, float)[hand.faces].mean(axis=1)
    return matplotlib.colormaps[cmap](np.clip(face_values, 0, 1))[:, :3]


def save_figure(hand, face_rgb, out: str | Path, title: str, legend: dict | None = None,
                scale: str | None = None) -> Path:
    """Palmar and dorsal views side by side, written atomically to `out`; `scale` (a label,
    for colours from `value_face_colours`) adds the colour bar that reads them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig = plt.figure(figsize=(9, 5.5))
    for k, view in enumerate(VIEWS):
        draw_mesh(fig.add_subplot(1, 2, k + 1, projection="3d"), hand.vertices, hand.faces,
                  face_rgb, view)
    if legend:
        handles = [Patch(color=c, label=n) for n, c in legend.items()]
        fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=8, frameon=False)
    if scale:
        bar = matplotlib.cm.ScalarMappable(matplotlib.colors.Normalize(0, 1), VALUE_CMAP)
        fig.colorbar(bar, ax=fig.axes, orientation="horizontal", fraction=0.04, pad=0.02,
                     label=scale)
    fig.suptitle(title)
    out = atomic.save_figure(fig, Path(out).expanduser().resolve(), dpi=130)
    plt.close(fig)
    return out


def show_command(cfg) -> int:
    """`haco hand show out=hand.png`: the hand coloured by region."""
    from haco.hand import load_hand

    hand = load_hand(cfg.hand.mano_path)
    counts = {name: len(ids) for name, ids in hand.regions.items()}
    legend = {f"{n} ({counts[n]})": c for n, c in REGION_COLOURS.items()}
    out = save_figure(hand, region_face_colours(hand), cfg.out,
                      f"{hand.source} hand: {len(hand.vertices)} vertices, regions", legend)
    print(f"wrote {out}")
    return 0
