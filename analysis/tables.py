"""The paper's tables regenerated from MLflow: ours (mean ± std over seeds) beside the paper.

Run: python analysis/tables.py [--study losses] [--format md|csv|tex|all] [--out analysis/out]
                               [--tracking-uri sqlite:///...|http://host:5000] [--profile quick]
"""

import sys

from haco.report.cli import tables_main

if __name__ == "__main__":
    sys.exit(tables_main())
