"""Capture styles: every dataset's domain has one, and each renders as it says."""

import numpy as np
import pytest

from haco.data.registry import DATASETS
from haco.synth.capture import NEUTRAL, STYLES, CaptureStyle, style_of_domain
from haco.synth.paint import render
from haco.synth.raster import Camera, Entity
from haco.synth.twins import get_twin


def test_every_dataset_domain_has_a_style():
    for info in DATASETS.values():
        assert isinstance(style_of_domain(info.domain), CaptureStyle), info.name
    assert get_twin("MOW").style is STYLES["Outdoor"]
    assert get_twin("InterHand2.6M").style is STYLES["Studio"]
    assert get_twin("DexYCB").style is STYLES["Indoor"]
    assert get_twin("ObMan").style is NEUTRAL


def test_unknown_domain_fails_loudly():
    with pytest.raises(KeyError, match="capture style"):
        style_of_domain("Real / Underwater")


@pytest.mark.parametrize("bad", [{"backgrounds": ()}, {"backgrounds": ("sky",)},
                                 {"brightness": (0.8, 0.2)}, {"ambient": (-0.1, 0.2)},
                                 {"saturation": 1.5}, {"noise": -0.01}])
def test_bad_style_is_refused(bad):
    from dataclasses import replace

    with pytest.raises(ValueError, match="capture style 'x'"):
        replace(NEUTRAL, **bad).validate("x")


def _ball_scene():
    import trimesh

    ball = trimesh.creation.icosphere(2, radius=0.05)
    entities = [Entity(ball.vertices + (0, 0, 0.5), ball.faces, (0.8, 0.6, 0.5), is_hand=True)]
    camera = Camera(position=(0, 0, 0), look_at=(0, 0, 1), up=(0, -1, 0), focal=50.0, size=48)
    return entities, camera


@pytest.mark.parametrize("name", list(STYLES))
def test_background_stays_in_the_style_brightness(name):
    # Mixing towards grey keeps each colour's mean, so the background mean lies in the range
    # (plus the sensor noise, which averages out over a corner).
    style = STYLES[name]
    entities, camera = _ball_scene()
    lo, hi = style.brightness
    for seed in range(6):
        image = render(entities, camera, np.random.default_rng(seed), style=style) / 255.0
        corner = image[:8, :8].mean()
        assert lo - 0.03 <= corner <= hi + 0.03, (name, seed, corner)


def test_studio_is_dark_and_outdoor_noisy():
    entities, camera = _ball_scene()
    studio = render(entities, camera, np.random.default_rng(0), "solid", style=STYLES["Studio"])
    outdoor = render(entities, camera, np.random.default_rng(0), "solid",
                     style=STYLES["Outdoor"]).astype(float)
    clean = render(entities, camera, np.random.default_rng(0), "solid").astype(float)
    assert studio[:8, :8].mean() < 0.16 * 255
    assert clean[:8, :8].std(axis=(0, 1)).max() == 0              # solid and noiseless
    assert outdoor[:8, :8].std(axis=(0, 1)).min() > 0.02 * 255    # solid, with sensor noise


def test_neutral_style_is_the_default_render():
    entities, camera = _ball_scene()
    a = render(entities, camera, np.random.default_rng(3))
    b = render(entities, camera, np.random.default_rng(3), style=NEUTRAL)
    assert np.array_equal(a, b)
