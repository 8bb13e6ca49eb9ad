"""The synthetic twins: a twin of each of the paper's datasets, generated into shards.

    twins.py     the twin profiles (scenario mixture, target imbalance, gap) + calibration
    scenes.py    a posed hand touching (or nearly touching) bodies; labels by haco.labels
    shapes.py    the bodies: primitives, hulls, unions, with signed distances
    raster.py    the rasterizer: pinhole camera, near clipping, z-buffer
    paint.py     the painting: backgrounds, textures, light and shading over the z-buffer
    capture.py   capture styles: how a dataset's pictures look, by Table 1's domain
    layout.py    where the twins live on disk, and the key that names their directory
    generate.py  `haco data synth`: every missing shard, in parallel, resumably
    stats.py     `haco data stats`: how faithful the twins are

Generation is always an explicit call (`haco.synth.generate.ensure`): a launch makes its
trials' twins once up front (haco/sweep/prepare.py) and `run(cfg)` once at its start;
looking up where a split lives (haco/data/catalogue.py) never generates.

The version lives here, in a module that imports nothing, so that haco.config can hash it
without importing the generator.
"""

GENERATOR_VERSION = 6  # bump when scenes, rendering or twins change what a sample is
