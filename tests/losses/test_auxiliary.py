"""Regularisation and smoothness terms (paper appendix A.1)."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from haco.losses import RegLoss, ReleaseSmoothLoss, SmoothLoss
from haco.losses.auxiliary import face_adjacency


def test_reg_is_l1_to_the_mean_contact():
    mean = np.array([0.1, 0.5, 0.9])
    probs = torch.tensor([[0.0, 0.5, 1.0], [0.3, 0.2, 0.9]])
    expected = np.abs(probs.numpy() - mean).mean()
    assert RegLoss(mean)(probs).item() == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        RegLoss(mean)(torch.zeros(2, 4))


def path_graph(n):
    return sp.diags([np.ones(n - 1), np.ones(n - 1)], [-1, 1], format="csr")


def test_smooth_on_a_path_by_hand():
    smooth = SmoothLoss(path_graph(3))
    # 1 0 1: every vertex disagrees with all its neighbours, I~ = 1 everywhere
    assert smooth(torch.tensor([[1.0, 0.0, 1.0]])).item() == pytest.approx(1.0, rel=1e-5)
    assert smooth(torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])).item() == 0.0
    # 1 1 0: vertex 1 has one of two neighbours off (1/2), vertex 2 its only one (1)
    assert smooth(torch.tensor([[1.0, 1.0, 0.0]])).item() == pytest.approx(1.5 / 3, rel=1e-5)


def loop_reference(probs, adjacency, eps=1e-6):
    """The isolation score written out per sample and per vertex."""
    a = adjacency.toarray().astype(float)
    out = []
    for p in probs:
        for v in range(len(p)):
            nbrs = np.flatnonzero(a[v])
            c, n = p[nbrs].sum(), (1 - p[nbrs]).sum()
            out.append((p[v] * n + (1 - p[v]) * c) / (len(nbrs) + eps))
    return np.mean(out)


def test_smooth_vectorised_matches_loop(hand):
    probs = np.random.default_rng(1).random((3, 778))
    loss = SmoothLoss(hand.adjacency)(torch.tensor(probs, dtype=torch.float32)).item()
    assert loss == pytest.approx(loop_reference(probs, hand.adjacency), rel=1e-5)


def scattered_vertices(adjacency, count, seed=0):
    """`count` random vertices, no two adjacent: the most fragmented contact map."""
    chosen, blocked = [], set()
    for v in np.random.default_rng(seed).permutation(adjacency.shape[0]):
        if v not in blocked:
            chosen.append(v)
            blocked.update(adjacency[v].indices, [v])
        if len(chosen) == count:
            return np.array(chosen)
    raise AssertionError("not enough independent vertices")


def test_fragmented_contact_costs_more_than_one_region(hand):
    region = hand.regions["thumb_tip"]  # one connected patch
    coherent, fragmented = torch.zeros(2, 778), torch.zeros(2, 778)
    coherent[:, region] = 1.0
    fragmented[:, scattered_vertices(hand.adjacency, len(region))] = 1.0
    smooth = SmoothLoss(hand.adjacency)
    assert smooth(fragmented) > 5 * smooth(coherent)  # hard maps: 0.056 vs 0.009
    soft = smooth(fragmented * 0.9 + 0.05), smooth(coherent * 0.9 + 0.05)  # sigmoid-like
    assert soft[0] > soft[1]


def test_smooth_holds_buffers_only(hand):
    smooth = SmoothLoss(hand.adjacency)
    assert not list(smooth.parameters())
    assert {name for name, _ in smooth.named_buffers()} == {"adjacency_t", "degree"}
    double = smooth.to(torch.float64)
    assert double.degree.dtype == torch.float64
    assert double(torch.rand(2, 778)).dtype == torch.float64


# Two triangles sharing edge 0-2, a third sharing edge 1-2 with the first: interior edges
# (in two faces) and boundary edges (in one).
TINY_FACES = np.array([[0, 1, 2], [0, 2, 3], [2, 1, 4]])


def release_smoothness(probs, faces, num_vertices):
    """The released SmoothRegLoss restated plainly: a sparse COO adjacency with each face's
    three edges both ways (duplicates summed) plus self-loops, one sparse product per
    sample, max-normalised propagation, log1p of the ratio, batch mean."""
    f = torch.as_tensor(faces, dtype=torch.long)
    rows = torch.cat([f[:, 0], f[:, 1], f[:, 2], f[:, 1], f[:, 2], f[:, 0]])
    cols = torch.cat([f[:, 1], f[:, 2], f[:, 0], f[:, 0], f[:, 1], f[:, 2]])
    a = torch.sparse_coo_tensor(torch.stack([rows, cols]), torch.ones(len(rows)),
                                (num_vertices, num_vertices), check_invariants=True)
    a = a + torch.eye(num_vertices).to_sparse()
    losses = []
    for p in probs:
        score = mass = 0.0
        for q in (p, 1.0 - p):
            spread = torch.sparse.mm(a, q[:, None])[:, 0]
            score = score + (q - spread / (spread.max() + 1e-6)).abs().sum()
            mass = mass + spread.sum()
        losses.append(torch.log1p(score / (mass + 1e-3)))
    return torch.stack(losses).mean()


def test_face_adjacency_counts_shared_edges_twice_and_adds_self_loops():
    a = face_adjacency(TINY_FACES, 5)
    assert np.array_equal(a, a.T) and np.array_equal(np.diag(a), np.ones(5))
    assert a[0, 2] == 2 and a[1, 2] == 2  # each in two faces
    assert a[0, 1] == 1 and a[2, 3] == 1 and a[1, 4] == 1  # boundary edges
    assert a[0, 4] == 0 and a[3, 4] == 0
    with pytest.raises(ValueError, match="faces must be"):
        face_adjacency(TINY_FACES, 4)


def test_release_smoothness_matches_the_release_on_a_tiny_mesh():
    torch.manual_seed(0)
    probs = torch.sigmoid(3 * torch.randn(6, 5))
    probs[0] = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0])  # all contact: the 1 - p map is zero
    probs[1] = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0])  # hard, fragmented
    ours = ReleaseSmoothLoss(TINY_FACES, 5)(probs)
    torch.testing.assert_close(ours, release_smoothness(probs, TINY_FACES, 5),
                               rtol=1e-6, atol=1e-7)


def test_release_smoothness_matches_the_release_on_the_hand(hand):
    """778 vertices: the dense and the sparse products sum in different orders; float32
    rounding of sums of ~778 terms stays below 1e-6 relative."""
    probs = torch.sigmoid(2 * torch.randn(3, 778, generator=torch.Generator().manual_seed(1)))
    ours = ReleaseSmoothLoss(hand.faces, 778)(probs)
    torch.testing.assert_close(ours, release_smoothness(probs, hand.faces, 778),
                               rtol=1e-6, atol=1e-7)


def test_release_smoothness_checks_shapes_and_holds_buffers_only():
    smooth = ReleaseSmoothLoss(TINY_FACES, 5)
    assert not list(smooth.parameters())
    assert [name for name, _ in smooth.named_buffers()] == ["adjacency_t"]
    with pytest.raises(ValueError, match=r"\(B, 5\)"):
        smooth(torch.zeros(2, 4))
