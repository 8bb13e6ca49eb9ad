"""The paper's tables regenerated from MLflow: ours (mean ± std [95% interval] over seeds)
beside the paper, and the paper's headline comparisons as paired tests over seeds.

Run: python analysis/tables.py [--study losses] [--format md|csv|tex|all] [--out analysis/out]
                               [--tracking-uri sqlite:///...|http://host:5000] [--profile quick]
                               [--fidelity paper|release]
"""

import sys

from haco.report.cli import tables_main

if __name__ == "__main__":
    sys.exit(tables_main())
