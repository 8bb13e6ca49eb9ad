"""Backbone pretraining on a hand task the twins label for free (no contact labels).

The paper fine-tunes HaMeR's ViT-H, pretrained on hand mesh recovery over millions of
images. At laptop scale the same idea: a backbone first learns where the hand's parts are
in the image (2D position and depth of its 84 coarse points) and what surrounds it (a
hand / other / background segmentation and a depth map), on twin images disjoint from
every study split; the contact model then starts from it through `model.pretrained`,
exactly as it would load real HaMeR weights.

    samples.py   one pretraining sample: a twin scene, rendered, with its hand targets
    dataset.py   the pretraining set: content-addressed, cached, built in parallel
    model.py     the pretraining network: the backbone plus two small heads
    train.py     the pretraining run (cached weights, an MLflow run) and `haco pretrain`
"""

from haco.pretrain.train import TWIN_WEIGHTS, ensure_pretrained, resolve_pretrained

__all__ = ["TWIN_WEIGHTS", "ensure_pretrained", "resolve_pretrained"]
