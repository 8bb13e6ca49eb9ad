"""Batched augmentations: shapes, determinism, and that each op does what it says."""

import pytest
import torch
from omegaconf import OmegaConf

from haco.config import load_config
from haco.data.augment import augment, blur, geometric, low_resolution

# Everything off: a test switches on the one op it checks.
NOTHING = {"enabled": True, "scale": [1.0, 1.0], "translate": 0.0, "rotate_deg": 0.0,
           "low_res_prob": 0.0, "low_res_min": 0.4, "noise_prob": 0.0, "noise_std": 0.03,
           "blur_prob": 0.0, "blur_sigma": [0.1, 1.5]}


@pytest.fixture(scope="module")
def cfg():
    return load_config("config", ["profile=smoke"]).loader.augment


def only(**changes):
    return OmegaConf.create({**NOTHING, **changes})


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def dot_image(b=8, size=32, row=8, col=24):
    """A black batch with one bright pixel, away from the centre."""
    x = torch.zeros(b, 3, size, size)
    x[:, :, row, col] = 1.0
    return x


def brightest(x):
    """(row, col) of each sample's brightest pixel."""
    flat = x.sum(dim=1).flatten(1).argmax(dim=1)
    return torch.stack([flat // x.shape[-1], flat % x.shape[-1]], dim=1)


def test_keeps_shape_dtype_device_and_range(cfg):
    x = torch.rand(6, 3, 32, 32)
    y = augment(x, cfg, gen())
    assert y.shape == x.shape and y.dtype == x.dtype and y.device == x.device
    assert y.min() >= 0 and y.max() <= 1
    assert not torch.equal(x, y)


def test_deterministic_per_generator(cfg):
    x = torch.rand(6, 3, 32, 32)
    assert torch.equal(augment(x, cfg, gen(3)), augment(x, cfg, gen(3)))
    assert not torch.equal(augment(x, cfg, gen(3)), augment(x, cfg, gen(4)))


def test_disabled_is_identity(cfg):
    x = torch.rand(2, 3, 16, 16)
    off = OmegaConf.merge(cfg, {"enabled": False})
    assert augment(x, off, gen()) is x


def test_all_off_changes_nothing():
    x = torch.rand(4, 3, 16, 16)
    assert torch.allclose(augment(x, only(), gen()), x, atol=1e-5)


def test_rotation_turns_the_picture_about_its_centre():
    x = dot_image(b=1)
    turned = geometric(x, torch.ones(1), torch.zeros(1, 2), torch.full((1,), 90.0))
    # 90 degrees in pixel units on a square image: exactly a quarter turn of the array
    # (counter-clockwise as displayed, rows pointing down)
    assert torch.allclose(turned, torch.rot90(x, k=1, dims=(2, 3)), atol=1e-5)


def test_random_rotation_moves_a_bright_pixel():
    x = dot_image()
    y = augment(x, only(rotate_deg=30.0), gen())
    moved = (brightest(y) != brightest(x)).any(dim=1)
    assert moved.sum() >= 6  # a few samples may draw an angle too small to move it a pixel
    # distance from the centre is kept (rotation, no zoom)
    centre = torch.tensor([15.5, 15.5])
    r_before = (brightest(x).float() - centre).norm(dim=1)
    r_after = (brightest(y).float() - centre).norm(dim=1)
    assert torch.allclose(r_before, r_after, atol=1.5)


def test_shift_and_zoom_move_content():
    x = dot_image(b=1, row=16, col=20)
    shifted = geometric(x, torch.ones(1), torch.tensor([[0.25, 0.0]]), torch.zeros(1))
    assert brightest(shifted).tolist() == [[16, 12]]  # a quarter of 32 px to the left
    zoomed = geometric(x, torch.full((1,), 2.0), torch.zeros(1, 2), torch.zeros(1))
    assert brightest(zoomed)[0, 1] > 20  # further from the centre (15.5) when zoomed in


def test_blur_is_per_sample_and_lowers_variance():
    x = torch.rand(2, 3, 32, 32, generator=gen())
    y = blur(x, torch.tensor([0.0, 1.5]))
    assert torch.allclose(y[0], x[0], atol=1e-6)  # sigma 0: untouched
    assert y[1].var() < 0.3 * x[1].var()
    via_augment = augment(x, only(blur_prob=1.0, blur_sigma=[1.0, 1.5]), gen())
    assert (via_augment.flatten(1).var(dim=1) < x.flatten(1).var(dim=1)).all()


def test_noise_raises_variance_by_its_std():
    x = torch.full((4, 3, 32, 32), 0.5)
    y = augment(x, only(noise_prob=1.0, noise_std=0.05), gen())
    assert y.std(dim=(1, 2, 3)).sub(0.05).abs().max() < 0.01


def test_low_resolution_removes_high_frequencies():
    checker = (torch.arange(32).view(-1, 1) + torch.arange(32)) % 2
    x = checker.float().expand(3, 3, 32, 32).clone()

    def roughness(t):  # energy of neighbouring-pixel differences, per sample
        return (t[..., 1:] - t[..., :-1]).abs().mean(dim=(1, 2, 3))

    y = low_resolution(x, torch.tensor([-1, 0, 1]), [0.5, 0.75])
    assert torch.equal(y[0], x[0])  # level -1: untouched
    assert (roughness(y[1:]) < 0.5 * roughness(x[1:])).all()
    via_augment = augment(x, only(low_res_prob=1.0), gen())
    assert (roughness(via_augment) < roughness(x)).all()


def test_a_batch_of_64_runs_in_one_call(cfg):
    x = torch.rand(64, 3, 32, 32)
    strong = OmegaConf.merge(cfg, {"low_res_prob": 0.5, "noise_prob": 0.5, "blur_prob": 0.5})
    assert augment(x, strong, gen()).shape == x.shape


def test_refuses_uint8_with_the_fix():
    with pytest.raises(ValueError, match="float"):
        augment(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), only(), gen())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_runs_on_the_gpu_with_a_gpu_generator(cfg):
    x = torch.rand(8, 3, 32, 32, device="cuda")
    g = torch.Generator(device="cuda").manual_seed(0)
    y = augment(x, cfg, g)
    assert y.device == x.device
    assert torch.equal(y, augment(x, cfg, torch.Generator(device="cuda").manual_seed(0)))
