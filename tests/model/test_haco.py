import numpy as np
import pytest
import torch

from haco.config import load_config
from haco.hand import load_hand
from haco.model import BACKBONES, INIT_KINDS, LEVELS, build_model, model_from_config
from haco.model.haco import INIT_PROB_CLAMP, ContactInit

SMALL = {"dim": 32, "depth": 1, "heads": 2, "dim_head": 16, "mlp_dim": 32}


@pytest.mark.parametrize("name", list(BACKBONES))
def test_every_backbone_maps_images_to_all_levels(name):
    # Shapes on the meta device: the real graph runs, but no memory or time is spent, so
    # even ViT-H is checked in the default run. Small inputs are used (64 px).
    with torch.device("meta"):
        model = build_model(name, **SMALL)
        out = model(torch.zeros(2, 3, 64, 64))
    assert sorted(out) == sorted(LEVELS)
    for level in LEVELS:
        assert out[level].shape == (2, level)


@pytest.mark.parametrize("name", ["test-resnet", "test-vit", "resnet-10t"])
def test_small_backbones_run_for_real(name):
    model = build_model(name, **SMALL)
    out = model(torch.rand(2, 3, 32, 32))
    assert torch.isfinite(out[778]).all()
    out[778].sum().backward()
    assert model.head.weight.grad is not None


def test_coarse_logits_are_the_regressors_applied_to_the_dense_logits():
    model = build_model("test-resnet", **SMALL).eval()
    out = model(torch.rand(1, 3, 32, 32))
    hand = load_hand()
    for level in (336, 84, 21):
        expected = out[778].double() @ torch.as_tensor(hand.regressors[level]).T
        torch.testing.assert_close(out[level].double(), expected, rtol=1e-5, atol=1e-5)


def test_contact_init_variants():
    images = torch.rand(1, 3, 32, 32)
    mean = np.linspace(0, 1, 778)
    outs = {}
    for kind in INIT_KINDS:
        torch.manual_seed(0)
        model = build_model("test-resnet", init=kind, init_mean=mean, **SMALL).eval()
        with torch.no_grad():
            outs[kind] = model(images)[778][0]
    offset = {k: outs[k] - outs["none"] for k in INIT_KINDS}
    # Same seed, same weights: the variants differ only by the added initial map.
    assert torch.allclose(offset["learned"], torch.zeros(778))  # learned starts at zero
    low = torch.logit(torch.tensor(INIT_PROB_CLAMP))
    assert torch.allclose(offset["zeros"], low.expand(778), atol=1e-5)
    assert torch.allclose(offset["ones"], -low.expand(778), atol=1e-5)
    assert offset["mean"][0] == pytest.approx(low.item(), abs=1e-5)
    assert offset["mean"][-1] == pytest.approx(-low.item(), abs=1e-5)
    learned = build_model("test-resnet", init="learned", **SMALL)
    assert "init.logits" in dict(learned.named_parameters())
    fixed = build_model("test-resnet", init="ones", **SMALL)
    assert "init.logits" not in dict(fixed.named_parameters())


def test_bad_options_are_clear_errors():
    with pytest.raises(KeyError, match="unknown backbone 'resnet-17'.*resnet-18"):
        build_model("resnet-17")
    with pytest.raises(TypeError, match="unknown option.*'width'.*dim"):
        build_model("test-resnet", width=3)
    with pytest.raises(ValueError, match="unknown contact init 'random'"):
        build_model("test-resnet", init="random")
    with pytest.raises(ValueError, match="init_mean"):
        build_model("test-resnet", init="mean")


def test_init_std_zero_starts_at_zeros_and_draws_nothing():
    torch.manual_seed(0)
    init = ContactInit("learned", std=0.0)
    after = torch.randn(3)
    torch.manual_seed(0)
    assert torch.equal(init.logits.detach(), torch.zeros(778))
    assert torch.equal(after, torch.randn(3))  # the random stream is left as it was


def test_init_std_one_is_the_release_randn():
    """The release: init_contact = nn.Parameter(torch.randn(1, 778)); same seed, same draw."""
    torch.manual_seed(7)
    init = ContactInit("learned", std=1.0)
    torch.manual_seed(7)
    assert torch.equal(init.logits.detach(), torch.randn(1, 778)[0])
    torch.manual_seed(7)
    half = ContactInit("learned", std=0.5).logits.detach()
    torch.manual_seed(7)
    assert torch.equal(half, 0.5 * torch.randn(778))


def test_init_std_is_drawn_first_when_the_model_is_built():
    torch.manual_seed(0)
    model = build_model("test-resnet", init_std=1.0, **SMALL)
    torch.manual_seed(0)
    assert torch.equal(model.init.logits.detach(), torch.randn(778))


@pytest.mark.parametrize("fidelity,std", [("paper", 0.0), ("release", 1.0)])
def test_init_std_comes_from_the_config(fidelity, std):
    cfg = load_config("train", ["profile=smoke", f"fidelity={fidelity}"])
    assert cfg.model.init_std == std
    torch.manual_seed(1)
    start = model_from_config(cfg).init.logits.detach()
    torch.manual_seed(1)
    assert torch.equal(start, std * torch.randn(778) if std else torch.zeros(778))


def test_fixed_inits_ignore_init_std():
    ones = [ContactInit("ones", std=std).logits for std in (0.0, 1.0)]
    assert torch.equal(*ones)
    assert not list(ContactInit("none", std=1.0).parameters())


def test_negative_init_std_is_refused():
    with pytest.raises(ValueError, match=r"model.init_std\) must be >= 0, got -1"):
        build_model("test-resnet", init_std=-1.0, **SMALL)
    with pytest.raises(ValueError, match="must be >= 0"):
        ContactInit("learned", std=float("nan"))
