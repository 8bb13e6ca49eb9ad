"""A simulated multi-node Ray cluster (ray.cluster_utils.Cluster) in a process of its own,
driven line by line on stdin by tests/sweep/test_cluster.py.

Why a process of its own: the pytest process may hold the session Ray (tests/conftest.py),
and a Cluster in the same process shares Ray's globals with it (Cluster.shutdown resets
the process's internal KV client). Run with RAY_TMPDIR set to a private directory, so its
`ray_current_cluster` file does not make other processes' plain `ray.init()` connect here.

Commands (one per line)     answers (one line each, `CLUSTER <json>`)
    start <workers>         {"address": gcs address, "nodes": [worker node ids]}
    add                     {"node": id of a new 1-CPU worker node}
    remove <node id>        {"removed": id}: its raylet and workers are killed, at once
    nodes                   {"nodes": [worker node ids]}
    quit (or end of input)  {"quit": true}: every node is shut down
"""

from __future__ import annotations

import json
import sys

PREFIX = "CLUSTER "
# Node death noticed within a few seconds, not Ray's default half a minute.
SYSTEM_CONFIG = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 1000,
                 "health_check_timeout_ms": 1000, "health_check_failure_threshold": 3}


def answer(payload: dict) -> None:
    print(PREFIX + json.dumps(payload), flush=True)


def serve() -> None:
    from ray.cluster_utils import Cluster

    cluster, workers = None, {}

    def add() -> str:
        node = cluster.add_node(num_cpus=1)
        workers[node.node_id] = node  # hex, as ray.get_runtime_context().get_node_id()
        return node.node_id

    try:
        for line in sys.stdin:
            command, *args = line.split()
            if command == "start":
                cluster = Cluster(initialize_head=True, connect=False,
                                  head_node_args={"num_cpus": 0, "include_dashboard": False,
                                                  "_system_config": SYSTEM_CONFIG})
                ids = [add() for _ in range(int(args[0]))]
                cluster.wait_for_nodes()
                answer({"address": cluster.address, "nodes": ids})
            elif command == "add":
                answer({"node": add()})
            elif command == "remove":
                # Not graceful: the node vanishes as a machine would, mid-epoch.
                cluster.remove_node(workers.pop(args[0]), allow_graceful=False)
                answer({"removed": args[0]})
            elif command == "nodes":
                answer({"nodes": list(workers)})
            elif command == "quit":
                break
    finally:
        if cluster is not None:
            cluster.shutdown()
        answer({"quit": True})


if __name__ == "__main__":
    serve()
