"""Study `losses`, the paper's Table 3: the loss ablation (CE, L1, L2, focal, CB, CB focal, LDAM, asymmetric, poly, VCB).

The grid, seeds and row labels are data: haco/conf/study/losses.yaml.
Run: python sweeps/losses.py [profile=smoke seeds=3 resources.gpus_per_trial=0.5 ...]
"""

import sys

from haco.sweep import main

if __name__ == "__main__":
    sys.exit(main("losses"))
