"""`budget.device_hours` and `budget.usd`: caps on what one launch may spend.

Spent is the sum over the launch's ended trials of their `cost/device_hours` and
`cost/usd` (a trial that ended early, pruned or failed, has none: its wall time is
priced at the same rate instead). Once either cap is reached no new trial starts;
trials already running finish, so a launch overshoots by at most the trials in flight.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from haco.config import ConfigError


@dataclass
class Budget:
    device_hours: float | None    # cap; None: no cap
    usd: float | None
    usd_per_hour: float           # one trial-hour on the device a trial gets
    spent_hours: float = 0.0
    spent_usd: float = 0.0
    charged: list[str] = field(default_factory=list)  # trial keys, in the order they ended

    @classmethod
    def from_cfg(cls, cfg, gpus: float) -> Budget:
        caps = {k: cfg.budget.get(k) for k in ("device_hours", "usd")}
        for key, cap in caps.items():
            if cap is not None and float(cap) <= 0:
                raise ConfigError(f"budget.{key}={cap}: give a positive cap, or null for none")
        rate = cfg.costs.usd_per_gpu_hour if gpus else cfg.costs.usd_per_cpu_hour
        return cls(*(None if v is None else float(v) for v in caps.values()), float(rate))

    @property
    def capped(self) -> bool:
        return self.device_hours is not None or self.usd is not None

    def spent_out(self) -> bool:
        return ((self.device_hours is not None and self.spent_hours >= self.device_hours)
                or (self.usd is not None and self.spent_usd >= self.usd))

    def charge(self, result: dict, key: str) -> None:
        """Add an ended trial's cost (its last result to Tune)."""
        hours = result.get("cost/device_hours")
        if hours is None:
            hours = float(result.get("time_total_s", 0.0)) / 3600
            usd = hours * self.usd_per_hour
        else:
            usd = float(result.get("cost/usd", hours * self.usd_per_hour))
        self.spent_hours += float(hours)
        self.spent_usd += usd
        self.charged.append(key)

    def caps(self) -> str:
        parts = ([f"{self.device_hours:g} device-hours"] if self.device_hours is not None
                 else []) + ([f"${self.usd:g}"] if self.usd is not None else [])
        return " and ".join(parts) if parts else "none"

    def plan(self, hours: list[float]) -> str:
        """The plan's line: does the estimate (device-hours of each trial, in launch order)
        fit the caps, and how many trials start before they are spent."""
        if not self.capped:
            return "budget: none (budget.device_hours, budget.usd cap a launch)"
        trials, covered, spent = len(hours), 0, 0.0
        for trial_hours in hours:  # a trial starts while the ended ones leave budget
            if ((self.device_hours is not None and spent >= self.device_hours)
                    or (self.usd is not None and spent * self.usd_per_hour >= self.usd)):
                break
            covered, spent = covered + 1, spent + trial_hours
        verdict = ("the estimate fits" if covered >= trials
                   else f"about {covered} of {trials} trials start before it is spent")
        return f"budget: {self.caps()}; {verdict}"

    def summary(self) -> str:
        state = "spent out: no new trial was started" if self.spent_out() else "not spent out"
        return (f"budget: spent {self.spent_hours:.3f} device-hours, ${self.spent_usd:.2f} "
                f"over {len(self.charged)} ended trials, of {self.caps()} ({state})")
