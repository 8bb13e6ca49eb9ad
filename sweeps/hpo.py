"""Study `hpo`: hyperparameter search (Optuna TPE + ASHA early stopping) for the main model.

The space, objective and sample count are data: haco/conf/study/hpo.yaml. The best
configuration is printed and written as a config file for `haco train --config-file`.
Run: python sweeps/hpo.py [profile=smoke study.search.samples=30 budget.device_hours=2 ...]
"""

import sys

from haco.sweep import main

if __name__ == "__main__":
    sys.exit(main("hpo"))
