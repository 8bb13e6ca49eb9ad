"""haco.hand.drawing: the hand in figures; a value map carries the colour bar that reads it."""

import numpy as np

from haco import atomic
from haco.hand import drawing, load_hand


def drawn_axes(monkeypatch, tmp_path, **kwargs) -> list[str]:
    seen = []

    def keep(fig, path, **options):
        seen.extend(ax.get_label() or ax.name for ax in fig.axes)
        return path

    monkeypatch.setattr(atomic, "save_figure", keep)
    hand = load_hand()
    drawing.save_figure(hand, drawing.value_face_colours(hand, np.full(778, 0.3)),
                        tmp_path / "map.png", "a map", **kwargs)
    return seen


def test_a_value_map_gets_a_colour_bar(monkeypatch, tmp_path):
    assert drawn_axes(monkeypatch, tmp_path, scale="contact probability") == [
        "3d", "3d", "<colorbar>"]


def test_a_region_map_has_none(monkeypatch, tmp_path):
    assert drawn_axes(monkeypatch, tmp_path) == ["3d", "3d"]
