"""Ray: connecting to it, and what each trial asks of it.

Defaults: with GPUs, one GPU per trial and the CPUs that come with a GPU share; without
GPUs, one trial at a time with every CPU (trials of this size scale with threads about
as well as they do side by side, and one at a time finishes the first row soonest).
Requests are checked against the nodes that are actually there, before any trial starts.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from haco.config import ConfigError


@dataclass(frozen=True)
class Resources:
    cpus: float          # per trial
    gpus: float          # per trial (a fraction shares a GPU)
    concurrent: int      # trials at once

    def as_ray(self) -> dict[str, float]:
        return {"cpu": self.cpus, "gpu": self.gpus}

    def __str__(self) -> str:
        return (f"{self.cpus:g} CPU + {self.gpus:g} GPU per trial, up to {self.concurrent} "
                "at a time")


def connect(cfg) -> str:
    """ray.init once: a local Ray (loopback dashboard off) or the cluster at ray.address.
    An already connected session (tests, notebooks) is reused as it is."""
    import ray

    if ray.is_initialized():
        return "the running Ray session"
    address = cfg.ray.address
    # Each trial's own output (epochs, MLflow's system-metrics log) reaches the console
    # only at sweep.verbose 2; the launch prints a line per trial event instead.
    loud = int(cfg.sweep.get("verbose", 1)) >= 2
    quiet = {"log_to_driver": loud, "logging_level": logging.INFO if loud else logging.ERROR}
    if address:
        source = use_cluster_token()
        try:
            ray.init(address=str(address), **quiet)
        except (ConnectionError, RuntimeError) as err:
            # Ray says "auth" when a token is refused, but a driver with no token at all
            # only hears that it failed to connect: then the token is the likely cause.
            if "auth" not in str(err).lower() and source is not None:
                raise
            raise ConfigError(auth_advice(str(address), source, err)) from None
        return f"Ray cluster at {address}" + (f" (token: {source})" if source else "")
    ray.init(num_cpus=cfg.ray.num_cpus, include_dashboard=False,
             dashboard_host="127.0.0.1", **quiet)
    return "a local Ray on this machine"


# Ray's own token sources, in its precedence (its docs, "Token Authentication").
TOKEN_FILE = Path("~/.ray/auth_token")


def token_source() -> str | None:
    """Where this driver's Ray token comes from, or None when it has none."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path:
        if not Path(path).expanduser().is_file():
            raise ConfigError(f"RAY_AUTH_TOKEN_PATH={path}: no such file; point it at the "
                              "cluster's token file, or unset it")
        return path
    default = TOKEN_FILE.expanduser()
    return str(default) if default.is_file() else None


def use_cluster_token() -> str | None:
    """Before connecting to a cluster by address: a driver that has a token turns token
    authentication on (RAY_AUTH_MODE=token), which a cluster started with one requires;
    a mode the user set is kept. Returns the token's source."""
    source = token_source()
    if source and not os.environ.get("RAY_AUTH_MODE"):
        os.environ["RAY_AUTH_MODE"] = "token"
        refresh_ray_config()
    return source


def refresh_ray_config() -> None:
    """Ray reads RAY_AUTH_MODE into its config once per process (at import): have it read
    the mode again, as Ray's own enable-by-default path does (a private call, so Ray
    versions without it keep the import-time mode)."""
    try:
        from ray._raylet import Config
    except ImportError:
        return
    Config.initialize("")


def auth_advice(address: str, source: str | None, err: BaseException) -> str:
    """The error of a cluster that refused this driver's token (or its lack of one)."""
    given = f"the token from {source}" if source else "no token"
    return (f"the Ray cluster at {address} refused this driver (or is not there), which has "
            f"{given} "
            f"(RAY_AUTH_MODE={os.environ.get('RAY_AUTH_MODE', 'unset')}): {err}. Give it the "
            f"cluster's token: copy the head node's {TOKEN_FILE} (`ray get-auth-token` "
            "prints it) to the same path here, or set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH; "
            "with RAY_AUTH_MODE=token (set for you when a token is found). cluster/README.md "
            "says how each recipe hands its nodes and drivers the token")


def nodes() -> list[dict[str, float]]:
    """[{"cpu", "gpu"}] of every alive node."""
    import ray

    return [{"cpu": n["Resources"].get("CPU", 0.0), "gpu": n["Resources"].get("GPU", 0.0)}
            for n in ray.nodes() if n["Alive"]]


WAIT_POLL_SECONDS = 5.0


def wait_for_nodes(cfg, poll: float = WAIT_POLL_SECONDS) -> Resources:
    """`per_trial` against the alive nodes. On an autoscaling cluster, GPU workers may not
    exist yet: with `resources.wait_seconds` > 0, a request no node meets asks the
    autoscaler for one trial's resources and waits for a node that has them."""
    wait = float(cfg.resources.wait_seconds or 0)
    deadline, asked = time.monotonic() + wait, False
    while True:
        try:
            resources = per_trial(cfg, nodes())
            if asked:
                request([])  # found: Tune's pending trials ask the autoscaler from here on
            return resources
        except ConfigError as err:
            if time.monotonic() >= deadline:
                if asked:
                    request([])
                    raise ConfigError(f"{err} (waited {wait:g} s for the autoscaler; raise "
                                      "resources.wait_seconds or check the cluster)") from None
                raise
            if not asked:
                print(f"waiting up to {wait:g} s for a node with {one_trial(cfg)}: {err}")
                request([one_trial(cfg)])
                asked = True
            time.sleep(poll)


def one_trial(cfg) -> dict[str, float]:
    """The resource bundle of one trial, as far as the config names it."""
    asked = cfg.resources
    bundle = {"GPU": float(asked.gpus_per_trial or 0), "CPU": float(asked.cpus_per_trial or 1)}
    return {k: v for k, v in bundle.items() if v}


def request(bundles: list[dict[str, float]]) -> None:
    from ray.autoscaler.sdk import request_resources

    request_resources(bundles=bundles)


def per_trial(cfg, cluster: list[dict[str, float]]) -> Resources:
    """Resolve `resources.*` and `sweep.max_concurrent` against the cluster's nodes."""
    if not cluster:
        raise ConfigError("the Ray cluster has no alive node; check ray.address")
    total_gpus = sum(n["gpu"] for n in cluster)
    biggest_gpus = max(n["gpu"] for n in cluster)
    biggest_cpus = max(n["cpu"] for n in cluster)
    asked = cfg.resources
    gpus = float(asked.gpus_per_trial if asked.gpus_per_trial is not None
                 else (1 if total_gpus else 0))
    if gpus < 0 or (gpus > 1 and gpus != int(gpus)):
        raise ConfigError(f"resources.gpus_per_trial={gpus:g}: give 0, a fraction below 1, or "
                          "a whole number of GPUs")
    if gpus > biggest_gpus:
        where = f"{biggest_gpus:g} on its largest node" if total_gpus else "none"
        raise ConfigError(f"resources.gpus_per_trial={gpus:g} but the cluster has {where}; "
                          f"set resources.gpus_per_trial={biggest_gpus:g} or add GPU nodes")
    concurrent = cfg.sweep.max_concurrent or (
        int(total_gpus // gpus) if gpus else 1)
    if concurrent < 1:
        raise ConfigError(f"sweep.max_concurrent={concurrent}: must be >= 1")
    if asked.cpus_per_trial is not None:
        cpus = float(asked.cpus_per_trial)
    elif gpus:  # the CPUs that come with this share of a GPU node
        cpus = max(1.0, math.floor(biggest_cpus * gpus / biggest_gpus))
    else:
        cpus = max(1.0, math.floor(sum(n["cpu"] for n in cluster) / concurrent))
        cpus = min(cpus, biggest_cpus)
    if cpus <= 0 or cpus > biggest_cpus:
        raise ConfigError(f"resources.cpus_per_trial={cpus:g} but the largest node has "
                          f"{biggest_cpus:g} CPUs; ask for at most that")
    return Resources(cpus, gpus, concurrent)
