"""Study `datasets`, the paper's Table 4: cumulative interaction groups x the four test sets.

The grid, seeds and row labels are data: haco/conf/study/datasets.yaml.
Run: python sweeps/datasets.py [profile=smoke seeds=3 resources.gpus_per_trial=0.5 ...]
"""

import sys

from haco.sweep import main

if __name__ == "__main__":
    sys.exit(main("datasets"))
