"""Studies (paper tables) as Ray Tune sweeps over `haco.train.run`, tracked in MLflow.

`main(study)` is all a script in `sweeps/` calls; the study itself is data in
haco/conf/study/<study>.yaml.
"""

from haco.sweep.launch import launch, main

__all__ = ["launch", "main"]
