"""The cluster deployment configs under cluster/: they parse, Ray's cluster launcher accepts
the AWS one, and each keeps what makes a study run on a cluster (GPU workers, /shared on
every node, the study's overrides) and stay private (dashboards on loopback, nothing
published to the world, no secret in the repository).

Fast and offline: no network, no cluster, no cloud credentials. The SLURM script runs
against stub `srun`/`scontrol`/`python` commands.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import types
from itertools import count
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "cluster"
AWS = CLUSTER / "aws.yaml"
KUBERAY = CLUSTER / "kuberay"
SBATCH = CLUSTER / "slurm" / "haco-study.sbatch"
MLFLOW = CLUSTER / "mlflow"

WORLD = ("0.0.0.0/0", "::/0")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def kuberay_documents() -> list[dict]:
    return [doc for path in sorted(KUBERAY.glob("*.yaml")) for doc in documents(path)]


def of_kind(kind: str) -> list[dict]:
    return [doc for doc in kuberay_documents() if doc["kind"] == kind]


def ray_cluster_specs() -> list[dict]:
    """The RayCluster's spec and the RayJob's inline rayClusterSpec."""
    return ([doc["spec"] for doc in of_kind("RayCluster")]
            + [doc["spec"]["rayClusterSpec"] for doc in of_kind("RayJob")])


def pod_specs(cluster_spec: dict) -> list[dict]:
    groups = [cluster_spec["headGroupSpec"], *cluster_spec["workerGroupSpecs"]]
    return [group["template"]["spec"] for group in groups]


def gpu_limit(group: dict) -> float:
    containers = group["template"]["spec"]["containers"]
    return sum(float(c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu", 0))
               for c in containers)


# --- every file -------------------------------------------------------------------------

def test_every_yaml_file_under_cluster_parses():
    files = sorted([*CLUSTER.rglob("*.yaml"), *CLUSTER.rglob("*.yml")])
    assert len(files) >= 5
    for path in files:
        assert documents(path), f"{path} holds no YAML document"


def test_no_file_under_cluster_holds_a_key_or_a_token():
    patterns = [r"AKIA[0-9A-Z]{16}", r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
                r"ghp_[A-Za-z0-9]{30,}", r"xox[bp]-[A-Za-z0-9-]{10,}"]
    for path in CLUSTER.rglob("*"):
        if path.is_file() and path.name != ".env":
            text = path.read_text(errors="replace")
            for pattern in patterns:
                assert not re.search(pattern, text), f"{path} matches {pattern}"


def test_ray_version_is_the_same_in_every_config():
    versions = {doc_spec["rayVersion"] for doc_spec in ray_cluster_specs()}
    dockerfile = (KUBERAY / "Dockerfile").read_text()
    base = re.search(r"^FROM rayproject/ray:([0-9.]+)-", dockerfile, re.MULTILINE)
    versions.add(base.group(1))
    versions.update(re.findall(r"ray\[default\]==([0-9.]+)", AWS.read_text()))
    assert len(versions) == 1, versions


def test_readme_names_only_files_that_exist():
    text = (CLUSTER / "README.md").read_text()
    named = set(re.findall(r"cluster/[\w./-]+\.(?:yaml|sbatch|py|md)", text))
    assert named
    for name in named:
        assert (ROOT / name).is_file(), name


# --- AWS: Ray's cluster launcher --------------------------------------------------------

def test_aws_config_passes_ray_launcher_validation():
    from ray.autoscaler._private.util import prepare_config, validate_config

    raw = load(AWS)
    validate_config(raw)
    validate_config(prepare_config(raw))  # with the AWS defaults filled in, as `ray up` does


def test_aws_has_an_autoscaling_gpu_worker_type():
    config = load(AWS)
    workers = {name: node for name, node in config["available_node_types"].items()
               if name != config["head_node_type"]}
    gpu = [node for node in workers.values() if node.get("resources", {}).get("GPU", 0) >= 1]
    assert gpu, "no worker type with a GPU"
    assert all(node["max_workers"] > 0 and node.get("min_workers", 0) == 0 for node in gpu)
    assert config["max_workers"] >= max(node["max_workers"] for node in gpu)
    head = config["available_node_types"][config["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0


def test_aws_head_serves_the_dashboard_on_loopback_only():
    starts = [c for c in load(AWS)["head_start_ray_commands"] if "ray start" in c]
    assert len(starts) == 1 and "--head" in starts[0]
    assert "--dashboard-host=127.0.0.1" in starts[0]
    assert "0.0.0.0" not in AWS.read_text().replace("0.0.0.0/0", "")


def test_aws_opens_nothing_to_the_world():
    config = load(AWS)
    # Without SecurityGroupIds Ray creates a group and always adds SSH from 0.0.0.0/0.
    for name, node in config["available_node_types"].items():
        assert node["node_config"].get("SecurityGroupIds"), f"{name} has no security group"
    for rule in config["provider"].get("security_group", {}).get("IpPermissions", []):
        ranges = [r.get("CidrIp") for r in rule.get("IpRanges", [])]
        ranges += [r.get("CidrIpv6") for r in rule.get("Ipv6Ranges", [])]
        assert not set(ranges) & set(WORLD), rule
        assert (rule["FromPort"], rule["ToPort"]) == (22, 22), rule
    assert not any(world in line.split("#")[0] for line in AWS.read_text().splitlines()
                   for world in WORLD)


def test_aws_nodes_share_storage_and_install_the_checkout():
    config = load(AWS)
    assert config["file_mounts"]["~/haco"] == "."
    setup = "\n".join(config["setup_commands"])
    assert re.search(r"mount -t nfs4 .*:/ /shared", setup)
    assert "pip install -e ~/haco" in setup


# --- Kubernetes: KubeRay ----------------------------------------------------------------

def test_kuberay_files_hold_the_expected_kinds():
    assert [(d["apiVersion"], d["kind"]) for d in documents(KUBERAY / "raycluster.yaml")] \
        == [("ray.io/v1", "RayCluster")]
    assert [(d["apiVersion"], d["kind"]) for d in documents(KUBERAY / "rayjob.yaml")] \
        == [("ray.io/v1", "RayJob")]
    assert {d["kind"] for d in documents(KUBERAY / "base.yaml")} \
        == {"PersistentVolumeClaim", "NetworkPolicy"}


def test_kuberay_clusters_have_a_head_and_autoscaling_gpu_workers():
    for spec in ray_cluster_specs():
        assert spec["enableInTreeAutoscaling"] is True
        assert spec["headGroupSpec"]["template"]["spec"]["containers"]
        assert gpu_limit(spec["headGroupSpec"]) == 0
        gpu = [g for g in spec["workerGroupSpecs"] if gpu_limit(g) >= 1]
        assert gpu, "no worker group with nvidia.com/gpu"
        assert all(g["minReplicas"] == 0 and g["maxReplicas"] > 0 for g in gpu)


def test_every_ray_pod_mounts_the_shared_rwx_claim_at_shared():
    claims = {d["metadata"]["name"]: d for d in of_kind("PersistentVolumeClaim")}
    for spec in ray_cluster_specs():
        for pod in pod_specs(spec):
            volumes = {v["name"]: v for v in pod["volumes"]}
            mounts = [m for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == "/shared"]
            assert len(mounts) == 1
            claim = volumes[mounts[0]["name"]]["persistentVolumeClaim"]["claimName"]
            assert "ReadWriteMany" in claims[claim]["spec"]["accessModes"]


def test_every_ray_pod_gets_the_mlflow_credentials_from_a_secret():
    for spec in ray_cluster_specs():
        for pod in pod_specs(spec):
            refs = [e["secretRef"]["name"] for e in pod["containers"][0].get("envFrom", [])]
            assert "haco-mlflow" in refs


def test_rayjob_entrypoint_runs_the_study_on_shared_storage():
    entrypoint = of_kind("RayJob")[0]["spec"]["entrypoint"]
    for expected in ("sweeps/", "ray.address=auto", "sweep.storage_path=/shared",
                     "data.root=/shared", "mlflow.tracking_uri=http://"):
        assert expected in entrypoint
    # KubeRay hands the entrypoint to a shell around `ray job submit`: one command only.
    assert not re.search(r"&&|;|\|", entrypoint)


def test_kuberay_publishes_nothing_outside_the_cluster():
    docs = kuberay_documents()
    assert not [d for d in docs if d["kind"] == "Ingress"]
    for doc in docs:
        if doc["kind"] == "Service":
            assert doc["spec"].get("type", "ClusterIP") == "ClusterIP"
    for spec in ray_cluster_specs():
        assert spec["headGroupSpec"].get("serviceType", "ClusterIP") == "ClusterIP"
    text = "\n".join(p.read_text() for p in KUBERAY.glob("*.yaml"))
    assert not re.search(r"^\s*[^#\s].*\b(LoadBalancer|NodePort)\b", text, re.MULTILINE)


def test_raycluster_dashboard_listens_on_loopback():
    spec = of_kind("RayCluster")[0]["spec"]
    assert spec["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "127.0.0.1"


def test_network_policy_admits_only_the_namespace_and_the_operator_dashboard():
    [policy] = of_kind("NetworkPolicy")
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"] == {"ray.io/is-ray-node": "yes"}
    assert spec["policyTypes"] == ["Ingress"]
    for rule in spec["ingress"]:
        for peer in rule["from"]:
            assert "ipBlock" not in peer
            if "namespaceSelector" in peer:  # another namespace: the job API port only
                assert peer["namespaceSelector"]["matchLabels"]
                assert [p["port"] for p in rule["ports"]] == [8265]
            else:
                assert peer == {"podSelector": {}}


# --- SLURM ------------------------------------------------------------------------------

def test_sbatch_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(SBATCH)], check=True)


def test_sbatch_script_asks_for_gpu_nodes():
    directives = re.findall(r"^#SBATCH (\S+)", SBATCH.read_text(), re.MULTILINE)
    for option in ("--nodes=", "--gres=gpu:", "--ntasks-per-node=1", "--cpus-per-task=",
                   "--time="):
        assert any(d.startswith(option) for d in directives), option
    assert "set -euo pipefail" in SBATCH.read_text()


def stubs(tmp_path: Path) -> dict[str, str]:
    """Stub scontrol/srun/ray/python/sleep logging to $STUB_LOG; the env to run the script."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    real_sleep = shutil.which("sleep")
    scripts = {
        "scontrol": "printf 'node1\\nnode2\\n'",
        "srun": ('echo "srun $*" >> "$STUB_LOG"\n'
                 'echo "srun sees RAY_AUTH_MODE=$RAY_AUTH_MODE" >> "$STUB_LOG"\n'
                 'case "$*" in *hostname*) echo "10.0.0.1 fe80::1" ;;\n'
                 f'  *"ray start"*) exec {real_sleep} 30 ;; esac'),
        # As the real wait_for_workers.py, the stub returns once the worker joined (its
        # srun step ran): the script then stops the steps, possibly before one began.
        "python": ('echo "python $*" >> "$STUB_LOG"\n'
                   'case "$*" in *wait_for_workers*) for _ in $(seq 100); do\n'
                   '  grep -q "ray start --address" "$STUB_LOG" && break\n'
                   f'  {real_sleep} 0.1; done ;; esac\n'
                   'exit "${STUB_PYTHON_RC:-0}"'),
        "ray": 'echo "ray $*" >> "$STUB_LOG"',
        "sleep": "exit 0",
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/bash\n{body}\n")
        path.chmod(0o755)
    (tmp_path / "shared").mkdir()
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path),
            "STUB_LOG": str(tmp_path / "log"), "SLURM_JOB_ID": "7",
            "SLURM_JOB_NODELIST": "node[1-2]", "SLURM_CPUS_PER_TASK": "4",
            "SLURM_SUBMIT_DIR": str(ROOT), "SHARED": str(tmp_path / "shared"),
            "STUDY": "backbones", "MLFLOW_TRACKING_URI": "http://10.0.0.5:5000"}


def run_sbatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SBATCH), *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_sbatch_starts_ray_waits_for_workers_runs_the_study_and_stops_ray(tmp_path):
    env = stubs(tmp_path)
    done = run_sbatch(env, "resources.gpus_per_trial=0.5")
    assert done.returncode == 0, done.stderr
    log = Path(env["STUB_LOG"]).read_text().splitlines()
    head = [line for line in log if "ray start --head" in line]
    assert len(head) == 1 and "-w node1" in head[0]
    assert "--node-ip-address=10.0.0.1 --port=6379 --dashboard-host=127.0.0.1" in head[0]
    assert [line for line in log if "-w node2 ray start --address=10.0.0.1:6379" in line]
    runs = [line for line in log if line.startswith("python ")]
    assert "cluster/wait_for_workers.py" in runs[0] and "--nodes=2" in runs[0]
    shared = env["SHARED"]
    assert runs[1] == ("python sweeps/backbones.py ray.address=10.0.0.1:6379 "
                       "mlflow.tracking_uri=http://10.0.0.5:5000 "
                       f"sweep.storage_path={shared}/haco/runs data.root={shared}/haco/data "
                       "resources.gpus_per_trial=0.5")
    assert "stopping Ray" in done.stdout


def test_sbatch_hands_every_node_one_ray_token_from_the_shared_home(tmp_path):
    env = stubs(tmp_path)
    assert run_sbatch(env).returncode == 0
    log = Path(env["STUB_LOG"]).read_text().splitlines()
    assert "ray get-auth-token --generate" in log  # none yet: made once
    assert {line for line in log if "sees RAY_AUTH_MODE" in line} == {
        "srun sees RAY_AUTH_MODE=token"}
    Path(env["STUB_LOG"]).unlink()
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("t")  # the shared home has one
    assert run_sbatch(env).returncode == 0
    assert "ray get-auth-token --generate" not in Path(env["STUB_LOG"]).read_text()


def test_aws_nodes_start_ray_with_the_token_synced_from_your_machine():
    config = load(AWS)
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        starts = [c for c in config[key] if "ray start" in c]
        assert starts and all("RAY_AUTH_MODE=token ray start" in c for c in starts)


def test_kuberay_clusters_turn_token_authentication_on():
    for spec in ray_cluster_specs():
        assert spec["authOptions"] == {"mode": "token"}


def test_sbatch_exits_with_the_study_status(tmp_path):
    env = {**stubs(tmp_path), "STUB_PYTHON_RC": "3"}
    done = run_sbatch(env)
    assert done.returncode == 3
    assert "stopping Ray" in done.stdout


def test_sbatch_requires_the_mlflow_tracking_uri(tmp_path):
    env = stubs(tmp_path)
    del env["MLFLOW_TRACKING_URI"]
    done = run_sbatch(env)
    assert done.returncode != 0
    assert "MLFLOW_TRACKING_URI" in done.stderr
    assert not Path(env["STUB_LOG"]).exists()  # nothing started


# --- MLflow tracking server -------------------------------------------------------------

@pytest.fixture(scope="module")
def compose() -> dict:
    return load(MLFLOW / "docker-compose.yaml")


def test_compose_runs_postgres_and_mlflow_with_basic_auth(compose):
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres")
    mlflow = services["mlflow"]
    command = " ".join(mlflow["command"])
    assert "--app-name basic-auth" in command
    backend = command + " " + str(mlflow["environment"].get("MLFLOW_BACKEND_STORE_URI", ""))
    assert "postgresql://" in backend and "@db:5432/" in backend
    assert mlflow["environment"]["MLFLOW_AUTH_CONFIG_PATH"].endswith("basic_auth.ini")
    assert "MLFLOW_FLASK_SERVER_SECRET_KEY" in mlflow["environment"]


def test_compose_publishes_mlflow_on_the_bind_address_only(compose):
    ports = compose["services"]["mlflow"]["ports"]
    assert ports
    for port in ports:
        assert isinstance(port, str) and port.startswith("${MLFLOW_BIND_ADDRESS:?"), port
        assert not port.startswith(("0.0.0.0", "5000"))
    assert "ports" not in compose["services"]["db"]


def test_compose_takes_every_secret_from_variables(compose):
    for service in compose["services"].values():
        for name, value in service.get("environment", {}).items():
            if re.search(r"PASSWORD|SECRET|TOKEN", name):
                assert re.fullmatch(r"\$\{[A-Z_]+(:[?-][^}]*)?\}", str(value)), name
    uri = compose["services"]["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"]
    assert re.match(r"postgresql://mlflow:\$\{POSTGRES_PASSWORD[^}]*\}@", uri)


def test_basic_auth_ini_sets_a_default_permission_and_no_password():
    config = configparser.ConfigParser()
    assert config.read(MLFLOW / "basic_auth.ini")
    section = config["mlflow"]
    assert section["default_permission"] in {"READ", "EDIT", "MANAGE", "NO_PERMISSIONS"}
    assert section["database_uri"]
    assert not section.get("admin_password")


def test_mlflow_env_file_is_never_committed():
    assert (MLFLOW / ".env.example").is_file()
    ignored = subprocess.run(["git", "check-ignore", "-q", "cluster/mlflow/.env"], cwd=ROOT,
                             check=False)
    assert ignored.returncode == 0


# --- wait_for_workers.py ----------------------------------------------------------------

@pytest.fixture(scope="module")
def waiter():
    spec = importlib.util.spec_from_file_location("wait_for_workers",
                                                  CLUSTER / "wait_for_workers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wait_for_workers_splits_its_options_from_the_command(waiter):
    args, command = waiter.parse(["--gpus", "8", "--", "python", "sweeps/x.py", "a=b", "--"])
    assert (args.gpus, args.nodes, args.address, args.no_request) == (8, 0, "auto", False)
    assert command == ["python", "sweeps/x.py", "a=b", "--"]
    args, command = waiter.parse(["--nodes=4", "--no-request", "--address=10.0.0.1:6379"])
    assert (args.nodes, args.no_request, args.address, command) == (4, True, "10.0.0.1:6379", [])


def test_wait_for_workers_says_what_is_missing(waiter):
    args, _ = waiter.parse(["--gpus", "8", "--nodes", "3"])
    assert waiter.missing(args, 2.0, 3) == "2/8 GPUs"
    assert waiter.missing(args, 8.0, 1) == "1/3 nodes"
    assert waiter.missing(args, 8.0, 3) == ""


@pytest.fixture
def fake_ray(waiter, monkeypatch):
    """A stand-in `ray` whose cluster reports the GPUs of `gpus` in turn; calls are logged."""
    state = {"gpus": iter([0.0]), "calls": []}
    calls = state["calls"]
    ray = types.ModuleType("ray")
    ray.init = lambda address, **_: calls.append(("init", address))
    ray.cluster_resources = lambda: {"GPU": next(state["gpus"])}
    ray.nodes = lambda: [{"Alive": True}, {"Alive": False}]
    ray.shutdown = lambda: calls.append(("shutdown",))
    sdk = types.ModuleType("ray.autoscaler.sdk")
    sdk.request_resources = lambda bundles: calls.append(("request", len(bundles)))
    monkeypatch.setitem(sys.modules, "ray", ray)
    monkeypatch.setitem(sys.modules, "ray.autoscaler", types.ModuleType("ray.autoscaler"))
    monkeypatch.setitem(sys.modules, "ray.autoscaler.sdk", sdk)
    monkeypatch.setattr(waiter.time, "sleep", lambda seconds: None)
    clock = count(step=100)
    monkeypatch.setattr(waiter.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(waiter.os, "execvp", lambda file, argv: calls.append(("exec", argv)))
    return state


def test_wait_for_workers_asks_waits_withdraws_then_runs_the_command(waiter, fake_ray):
    fake_ray["gpus"] = iter([0.0, 4.0, 8.0])
    assert waiter.main(["--gpus", "8", "--", "python", "sweeps/x.py"]) == 0
    assert fake_ray["calls"] == [("init", "auto"), ("request", 8), ("request", 0),
                                 ("shutdown",), ("exec", ["python", "sweeps/x.py"])]


def test_wait_for_workers_gives_up_after_its_timeout_and_runs_nothing(waiter, fake_ray):
    fake_ray["gpus"] = iter([0.0] * 10)
    assert waiter.main(["--gpus", "2", "--timeout", "250", "--", "python", "x.py"]) == 1
    assert ("request", 0) in fake_ray["calls"]  # the request is withdrawn all the same
    assert not [call for call in fake_ray["calls"] if call[0] == "exec"]


def test_wait_for_workers_on_a_static_cluster_only_waits_for_nodes(waiter, fake_ray):
    fake_ray["gpus"] = iter([0.0])
    assert waiter.main(["--nodes", "1", "--no-request", "--address", "10.0.0.1:6379"]) == 0
    assert fake_ray["calls"] == [("init", "10.0.0.1:6379"), ("shutdown",)]
