"""Regions, regressors and adjacency of the hand."""

import numpy as np
import pytest

from haco.hand import NUM_VERTICES, REGION_NAMES, load_hand
from haco.hand.topology import edges_of


@pytest.fixture(scope="module")
def hand():
    return load_hand()


def test_regions_partition_every_vertex(hand):
    assert tuple(hand.regions) == REGION_NAMES
    ids = np.concatenate(list(hand.regions.values()))
    assert len(ids) == NUM_VERTICES
    assert np.array_equal(np.sort(ids), np.arange(NUM_VERTICES))
    assert all(len(v) >= 10 for v in hand.regions.values())


def test_regions_are_where_their_names_say(hand):
    v, regions = hand.vertices, hand.regions
    assert v[regions["palm"], 2].mean() < 0 < v[regions["dorsum"], 2].mean()
    assert v[regions["finger_pads"], 2].mean() < v[regions["finger_backs"], 2].mean()
    for finger, tip in zip(("thumb", "index", "middle", "ring", "pinky"), hand.tip_vertices):
        assert tip in regions[f"{finger}_tip"]


@pytest.mark.parametrize("size", [336, 84])
def test_coarsenings_average_and_cover(hand, size):
    r = hand.regressors[size]
    assert r.shape == (size, NUM_VERTICES)
    assert (r >= 0).all()
    np.testing.assert_allclose(r.sum(axis=1), 1.0)
    assert ((r > 0).sum(axis=0) == 1).all()  # every vertex in exactly one patch


def test_coarse_patches_are_connected(hand):
    r = hand.regressors[84]
    adj = hand.adjacency.toarray()
    for row in r:
        members = np.flatnonzero(row)
        reached, frontier = {members[0]}, [members[0]]
        while frontier:
            nxt = [j for i in frontier for j in np.flatnonzero(adj[i]) if j in members
                   and j not in reached]
            reached.update(nxt)
            frontier = nxt
        assert len(reached) == len(members)


def test_joint_regressor_reproduces_keypoints(hand):
    r = hand.regressors[21]
    assert r.shape == (21, NUM_VERTICES)
    np.testing.assert_allclose(r.sum(axis=1), 1.0)
    assert (r >= 0).all()
    np.testing.assert_allclose(r[:16] @ hand.vertices, hand.joints)
    np.testing.assert_allclose(r[16:] @ hand.vertices, hand.vertices[hand.tip_vertices])


def test_adjacency_matches_faces(hand):
    adj = hand.adjacency
    assert adj.shape == (NUM_VERTICES, NUM_VERTICES)
    assert (adj != adj.T).nnz == 0
    assert adj.diagonal().sum() == 0
    assert adj.nnz == 2 * len(edges_of(hand.faces)) == 3 * len(hand.faces)  # closed mesh
    assert np.asarray(adj.sum(axis=1)).min() >= 3
