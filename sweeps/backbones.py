"""Study `backbones`, the paper's Tables A2 and A3: the twelve backbones, their F1 and compute costs.

The grid, seeds and row labels are data: haco/conf/study/backbones.yaml.
Run: python sweeps/backbones.py [profile=smoke seeds=3 resources.gpus_per_trial=0.5 ...]
"""

import sys

from haco.sweep import main

if __name__ == "__main__":
    sys.exit(main("backbones"))
