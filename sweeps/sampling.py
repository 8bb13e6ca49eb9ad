"""Study `sampling`, the paper's Table 2: Balanced Contact Sampling off and on.

The grid, seeds and row labels are data: haco/conf/study/sampling.yaml.
Run: python sweeps/sampling.py [profile=smoke seeds=3 resources.gpus_per_trial=0.5 ...]
"""

import sys

from haco.sweep import main

if __name__ == "__main__":
    sys.exit(main("sampling"))
