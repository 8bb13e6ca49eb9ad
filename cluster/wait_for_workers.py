"""Grow a Ray cluster to N GPUs (or nodes), wait until they are alive, then run a command.

A study sizes itself to the GPUs that are alive when it starts (haco/sweep/resources.py:
trials at once = cluster GPUs / gpus_per_trial; no GPU at all means CPU trials). An
autoscaling cluster idles at zero GPU workers, so grow it first: this asks Ray's
autoscaler for N one-GPU bundles (ray.autoscaler.sdk.request_resources), waits until the
cluster reports them, withdraws the request (busy workers stay; idle ones are removed after
the idle timeout) and then replaces itself with the command after `--`, if any.

Run (on the head node, or as a RayJob entrypoint):
  python cluster/wait_for_workers.py --gpus 8 -- python sweeps/backbones.py ray.address=auto ...
  python cluster/wait_for_workers.py --address 10.0.0.1:6379 --nodes 4 --no-request  # SLURM
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The options, and the command after `--` (empty: only wait)."""
    command: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(
        prog="wait_for_workers.py",
        description="Grow a Ray cluster to N GPUs or nodes, wait for them, then run a command "
                    "given after `--`.")
    parser.add_argument("--gpus", type=int, default=0, help="GPUs the cluster must have")
    parser.add_argument("--nodes", type=int, default=0,
                        help="alive nodes the cluster must have (head included)")
    parser.add_argument("--address", default="auto", help="Ray address (default: auto)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds to wait before giving up (default: 1800)")
    parser.add_argument("--no-request", action="store_true",
                        help="only wait; ask no autoscaler for nodes (a static cluster)")
    args = parser.parse_args(argv)
    if args.gpus < 0 or args.nodes < 0:
        parser.error("--gpus and --nodes take a count >= 0")
    return args, command


def missing(args: argparse.Namespace, gpus: float, nodes: int) -> str:
    """What the cluster still lacks, in words ("" when nothing)."""
    lacks = []
    if gpus < args.gpus:
        lacks.append(f"{gpus:g}/{args.gpus} GPUs")
    if nodes < args.nodes:
        lacks.append(f"{nodes}/{args.nodes} nodes")
    return ", ".join(lacks)


def main(argv: list[str] | None = None) -> int:
    args, command = parse(sys.argv[1:] if argv is None else argv)
    import ray
    from ray.autoscaler.sdk import request_resources

    ray.init(address=args.address, log_to_driver=False)
    requested = bool(args.gpus) and not args.no_request
    if requested:
        request_resources(bundles=[{"GPU": 1}] * args.gpus)
    deadline = time.monotonic() + args.timeout
    try:
        while True:
            gpus = ray.cluster_resources().get("GPU", 0.0)
            nodes = sum(1 for node in ray.nodes() if node["Alive"])
            lacks = missing(args, gpus, nodes)
            if not lacks:
                print(f"wait_for_workers: ready: {gpus:g} GPUs on {nodes} nodes", flush=True)
                break
            if time.monotonic() > deadline:
                print(f"wait_for_workers: gave up after {args.timeout:g} s with {lacks}; "
                      "check `ray status` and the node type's limits", file=sys.stderr)
                return 1
            print(f"wait_for_workers: waiting for {lacks}", flush=True)
            time.sleep(10)
    finally:
        if requested:
            request_resources(bundles=[])
        ray.shutdown()
    if command:
        os.execvp(command[0], command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
