"""Study `init`, the paper's Table A1: the eight contact initializations.

The grid, seeds and row labels are data: haco/conf/study/init.yaml.
Run: python sweeps/init.py [profile=smoke seeds=3 resources.gpus_per_trial=0.5 ...]
"""

import sys

from haco.sweep import main

if __name__ == "__main__":
    sys.exit(main("init"))
