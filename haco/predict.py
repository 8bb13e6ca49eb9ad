"""`haco predict`: dense contact of one image from a trained checkpoint.

Writes, next to each other in `out`: <stem>.contact.npy (778 probabilities),
<stem>.contact.png (palmar and dorsal views of the hand coloured by contact) and
<stem>.contact.ply (the hand mesh with per-vertex colours, through trimesh).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from haco.atomic import write_with


def load_image(path, size: int) -> torch.Tensor:
    """(1, 3, size, size) in [0, 1]: the image's centre square, resized. Expects a crop
    around the hand, as the training images are."""
    from PIL import Image

    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    image = Image.open(path).convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize((size, size),
                                                                      Image.BILINEAR)
    array = np.asarray(image, dtype=np.float32) / 255
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)


def save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:  # a file object: np.save would append .npy to a path
        np.save(f, array)


@torch.no_grad()
def predict_contacts(model, image: torch.Tensor) -> np.ndarray:
    return torch.sigmoid(model.eval()(image)[778].float())[0].numpy()


def save_ply(hand, probs: np.ndarray, path: Path) -> Path:
    import matplotlib
    import trimesh

    colours = (matplotlib.colormaps["inferno"](np.clip(probs, 0, 1)) * 255).astype(np.uint8)
    mesh = trimesh.Trimesh(hand.vertices, hand.faces, vertex_colors=colours, process=False)
    return write_with(path, lambda tmp: tmp.write_bytes(trimesh.exchange.ply.export_ply(mesh)))


def predict_command(cfg) -> int:
    from haco import tracking
    from haco.hand import load_hand
    from haco.hand.drawing import save_figure, value_face_colours
    from haco.train.checkpoint import load_trained
    from haco.train.evaluate import decision_threshold

    model, trained = load_trained(tracking.fetch_checkpoint(
        str(cfg.checkpoint), tracking.tracking_uri(cfg)))
    probs = predict_contacts(model, load_image(cfg.image, int(trained.data.image_size)))
    out = Path(cfg.out).expanduser()
    stem = str(out / f"{Path(cfg.image).stem}.contact")
    write_with(f"{stem}.npy", lambda tmp: save_npy(tmp, probs))
    hand = load_hand(trained.hand.mano_path)
    threshold = decision_threshold(trained)
    title = (f"{Path(cfg.image).name}: {int((probs >= threshold).sum())} of 778 vertices "
             f"in contact (p >= {threshold})")
    save_figure(hand, value_face_colours(hand, probs), f"{stem}.png", title,
                scale="predicted contact probability")
    save_ply(hand, probs, Path(f"{stem}.ply"))
    print(f"wrote {stem}.npy, .png and .ply")
    return 0
