"""The paper's figures from MLflow (PNG and PDF): Figure 1's imbalance, loss bars, the
backbones' F1-cost Pareto front, per-region F1 on the hand, learning curves.

Run: python analysis/figures.py [--out analysis/out/figures] [--tracking-uri ...] [--profile quick]
                                [--fidelity paper|release]
"""

import sys

from haco.report.cli import figures_main

if __name__ == "__main__":
    sys.exit(figures_main())
