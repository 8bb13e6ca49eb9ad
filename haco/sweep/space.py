"""A search's space (`study.search.space`): its dimensions checked, as Optuna distributions
and as the Hydra overrides that turn a sample into a trial's config."""

from __future__ import annotations

from dataclasses import dataclass

from haco.config import ConfigError

DISTRIBUTIONS = ("loguniform", "uniform", "choice")


@dataclass(frozen=True)
class Dimension:
    """One searched key: `dist` over [low, high] or one of `values`."""

    key: str
    dist: str
    low: float | None = None
    high: float | None = None
    values: tuple = ()

    def optuna(self):
        from optuna.distributions import CategoricalDistribution, FloatDistribution

        if self.dist == "choice":
            return CategoricalDistribution(self.values)
        return FloatDistribution(self.low, self.high, log=self.dist == "loguniform")

    def ends(self) -> tuple:
        return (self.values[0], self.values[-1]) if self.dist == "choice" else (self.low,
                                                                                  self.high)


def dimension(entry) -> Dimension:
    """A `study.search.space` entry, checked."""
    key, dist = entry.get("key"), entry.get("dist")
    if not key or dist not in DISTRIBUTIONS:
        raise ConfigError(f"study.search.space entry {dict(entry)}: give key: <train key> "
                          f"and dist: one of {', '.join(DISTRIBUTIONS)}")
    if dist == "choice":
        values = tuple(entry.get("values") or ())
        if not values:
            raise ConfigError(f"study.search.space {key}: choice needs values: [a, b, ...]")
        return Dimension(key, dist, values=values)
    low, high = entry.get("low"), entry.get("high")
    if low is None or high is None or not float(low) < float(high):
        raise ConfigError(f"study.search.space {key}: {dist} needs low < high, got "
                          f"low={low} high={high}")
    if dist == "loguniform" and float(low) <= 0:
        raise ConfigError(f"study.search.space {key}: loguniform needs low > 0, got {low}")
    return Dimension(key, dist, float(low), float(high))


def overrides_of(params: dict) -> list[str]:
    """Hydra overrides setting the sampled values (repr keeps every digit of a float)."""
    return [f"{key}={value!r}" for key, value in params.items()]
