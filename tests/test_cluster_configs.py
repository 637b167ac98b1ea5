"""configs/slurm.yaml and configs/kubernetes.yaml, checked against dask-jobqueue, the Dask operator and real processes.

No SLURM or Kubernetes here: the SLURM job script is rendered by dask-jobqueue and run with bash; the
Kubernetes objects go through the operator's own builders (dask_kubernetes.operator.controller), and the
scheduler, worker and driver commands run as local processes with the environment the operator gives them.
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from importlib.metadata import entry_points
from importlib.util import find_spec
from pathlib import Path

import dask
import pytest
import yaml
from conftest import ROOT

SLURM = ROOT / "configs" / "slurm.yaml"
KUBE = ROOT / "configs" / "kubernetes.yaml"
SAMPLE = ROOT / "pipeline" / "sample"
DASK = shutil.which("dask")

# The settings pipeline/runner.py::_local_cluster applies (docs/cluster.md), as Dask reads them.
EMBEDDED = {
    "distributed.worker.profile.enabled": False,
    "distributed.scheduler.worker-saturation": 1.0,
}

# Dask operator conventions (dask_kubernetes/operator/controller/controller.py, constants.py, 2026.3.0):
# a DaskJob's DaskCluster has the job's name; its pods carry these labels; the Service is "<cluster>-scheduler".
CLUSTER_LABEL, COMPONENT_LABEL = "dask.org/cluster-name", "dask.org/component"
VALID_CLUSTER_NAME = re.compile(r"^(?=.{,53}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _docs(path: Path) -> dict[str, dict]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    by_kind = {d["kind"]: d for d in docs}
    assert len(by_kind) == len(docs), "one object per kind"
    return by_kind


def _env(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", [])}


def _kube_expand(args: list[str], env: dict[str, str]) -> list[str]:
    """Kubernetes' $(VAR) expansion of command/args: every reference must name a container variable."""
    def sub(m: re.Match) -> str:
        assert m.group(1) in env, f"$({m.group(1)}) is not in the container's environment"
        return env[m.group(1)]
    return [re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", sub, a) for a in args]


def _dask_config(env: dict[str, str]) -> dict:
    """The Dask config a process started with `env` has (defaults updated by Dask's own DASK_... parser)."""
    return dask.config.update(copy.deepcopy(dask.config.config), dask.config.collect_env(env))


def _wait_for(path: Path, key: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = json.loads(path.read_text())
            if key in data:
                return data
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{path} never held {key}")


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


# --------------------------------------------------------------------------------------------- SLURM

@pytest.fixture(scope="module")
def slurm() -> dict:
    pytest.importorskip("dask_jobqueue", reason="dask-jobqueue is not installed (the cluster extra)")
    return yaml.safe_load(SLURM.read_text())


def test_slurm_sections_are_arguments_dask_jobqueue_accepts(slurm: dict, tmp_path: Path, monkeypatch) -> None:
    from dask_jobqueue import SLURMCluster
    from dask_jobqueue.core import Job, JobQueueCluster
    from dask_jobqueue.slurm import SLURMJob

    monkeypatch.chdir(tmp_path)  # SLURMCluster creates the relative log_directory
    accepted = {n for f in (SLURMCluster.__init__, JobQueueCluster.__init__, SLURMJob.__init__, Job.__init__)
                for n in inspect.signature(f).parameters}
    assert set(slurm) == {"dask", "cluster", "adapt", "run"}
    assert set(slurm["cluster"]) <= accepted, set(slurm["cluster"]) - accepted
    with SLURMCluster(**{**slurm["cluster"], "scheduler_options": {"dashboard_address": ":0"}}) as cluster:
        adaptive = cluster.adapt(**slurm["adapt"])
        per_job = slurm["cluster"]["processes"]
        assert (adaptive.minimum, adaptive.maximum) == (slurm["adapt"]["minimum_jobs"] * per_job,
                                                        slurm["adapt"]["maximum_jobs"] * per_job)
        assert adaptive.wait_count == slurm["adapt"]["wait_count"]
    # the `dask` section holds Dask keys that exist, with the embedded cluster's values
    for key, value in slurm["dask"].items():
        assert dask.config.get(key) is not None and EMBEDDED[key] == value


def test_slurm_run_section_is_a_valid_run_config(slurm: dict, tmp_path: Path) -> None:
    from pipeline.config import config_from_dict

    run = {**slurm["run"], "inputs": [str(SAMPLE / "sample-00000.warc.gz")], "output": str(tmp_path / "out")}
    config = config_from_dict(run, SLURM.parent, "slurm.yaml run")  # relative paths resolve from configs/
    assert config.robots_snapshot and Path(config.robots_snapshot).is_file()


def test_slurm_job_script_survives_an_unset_tmpdir(slurm: dict, tmp_path: Path, monkeypatch) -> None:
    from dask_jobqueue import SLURMCluster

    monkeypatch.chdir(tmp_path)  # SLURMCluster creates the relative log_directory

    with SLURMCluster(**{**slurm["cluster"], "scheduler_options": {"dashboard_address": ":0"}}) as cluster:
        script = cluster.job_script()
    lines = script.splitlines()
    assert "#SBATCH -t 12:00:00" in lines and "#SBATCH --mem=32G" in lines and "#SBATCH --no-requeue" in lines
    assert "export DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False" in lines
    worker = next(x for x in lines if "distributed.cli.dask_worker" in x)
    assert "--nthreads 1" in worker and "--nworkers 8" in worker and "--memory-limit 4.00GiB" in worker
    assert "--lifetime 690m --lifetime-stagger 15m" in worker
    assert '--local-directory "${TMPDIR:-/tmp}"' in worker and "$TMPDIR" not in worker
    # bash's word splitting of the worker line, with and without TMPDIR: the option keeps its value
    argv = worker.split(" ", 1)[1]
    env = {k: v for k, v in os.environ.items() if k != "TMPDIR"}
    for tmpdir, expected in ((None, "/tmp"), ("/scratch/job 42", "/scratch/job 42")):
        words = subprocess.run(["bash", "-c", f'printf "%s\\n" {argv}'], capture_output=True, text=True, check=True,
                               env=env if tmpdir is None else {**env, "TMPDIR": tmpdir}).stdout.splitlines()
        i = words.index("--local-directory")
        assert words[i + 1] == expected and words[i + 2] == "--lifetime"
    # the value it replaces lost its argument when TMPDIR was unset: the bug of issue 15
    old = argv.replace('"${TMPDIR:-/tmp}"', "$TMPDIR")
    words = subprocess.run(["bash", "-c", f'printf "%s\\n" {old}'], capture_output=True, text=True, check=True,
                           env=env).stdout.splitlines()
    assert words[words.index("--local-directory") + 1] == "--lifetime"


@pytest.mark.slow
def test_a_worker_from_the_rendered_job_script_joins_with_the_documented_settings(slurm: dict, tmp_path: Path,
                                                                                  monkeypatch) -> None:
    """Run the job script (one process instead of 8, this interpreter instead of the venv) without TMPDIR."""
    from dask_jobqueue import SLURMCluster
    from distributed import Client

    monkeypatch.chdir(tmp_path)  # log_directory is relative
    cluster_kwargs = {
        **slurm["cluster"], "processes": 1, "cores": 1, "memory": "4GiB", "python": sys.executable,
        "job_script_prologue": [x for x in slurm["cluster"]["job_script_prologue"] if not x.startswith("source ")],
        "scheduler_options": {"dashboard_address": ":0"},
    }
    with dask.config.set(slurm["dask"]), SLURMCluster(**cluster_kwargs) as cluster, Client(cluster) as client:
        script = tmp_path / "job.sh"
        script.write_text(cluster.job_script())
        env = {k: v for k, v in os.environ.items() if k != "TMPDIR" and not k.startswith("DASK_")}
        env["PYTHONPATH"] = str(ROOT)
        job = subprocess.Popen(["bash", str(script)], env=env, cwd=tmp_path, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            client.wait_for_workers(1, timeout=90)

            def probe(dask_worker):
                return {"local_directory": dask_worker.local_directory, "nthreads": dask_worker.state.nthreads,
                        "profile": dask.config.get("distributed.worker.profile.enabled"),
                        "malloc_trim": os.environ.get("MALLOC_TRIM_THRESHOLD_"),
                        "omp": os.environ.get("OMP_NUM_THREADS"), "lifetime": dask_worker.lifetime is not None}

            (seen,) = client.run(probe).values()
            saturation = client.run_on_scheduler(lambda: dask.config.get("distributed.scheduler.worker-saturation"))
        finally:
            _stop([job])
    assert seen["local_directory"].startswith("/tmp/")
    assert seen == {**seen, "nthreads": 1, "profile": False, "malloc_trim": None, "omp": "1", "lifetime": True}
    assert saturation == 1.0


# ---------------------------------------------------------------------------------------- Kubernetes

@pytest.fixture(scope="module")
def kube() -> dict[str, dict]:
    return _docs(KUBE)


def _containers(kube: dict[str, dict]) -> dict[str, dict]:
    job = kube["DaskJob"]["spec"]
    (driver,) = job["job"]["spec"]["containers"]
    (worker,) = job["cluster"]["spec"]["worker"]["spec"]["containers"]
    (scheduler,) = job["cluster"]["spec"]["scheduler"]["spec"]["containers"]
    return {"driver": driver, "worker": worker, "scheduler": scheduler}


def test_kubernetes_names_follow_the_operator(kube: dict[str, dict]) -> None:
    assert set(kube) == {"ConfigMap", "PersistentVolumeClaim", "DaskJob", "DaskAutoscaler"}
    name = kube["DaskJob"]["metadata"]["name"]
    assert VALID_CLUSTER_NAME.match(name)
    assert kube["DaskJob"]["apiVersion"] == kube["DaskAutoscaler"]["apiVersion"] == "kubernetes.dask.org/v1"
    service = kube["DaskJob"]["spec"]["cluster"]["spec"]["scheduler"]["service"]
    assert service["selector"] == {CLUSTER_LABEL: name, COMPONENT_LABEL: "scheduler"}
    assert kube["DaskAutoscaler"]["spec"]["cluster"] == name
    assert 1 <= kube["DaskAutoscaler"]["spec"]["minimum"] <= kube["DaskAutoscaler"]["spec"]["maximum"]
    scheduler = _containers(kube)["scheduler"]
    ports = {p["name"] for p in scheduler["ports"]}
    # the operator finds the scheduler through the Service ports named tcp-comm and http-dashboard
    assert {p["name"] for p in service["ports"]} == {"tcp-comm", "http-dashboard"} <= ports
    assert {p["targetPort"] for p in service["ports"]} <= ports
    assert scheduler["readinessProbe"]["httpGet"] == {"port": "http-dashboard", "path": "/health"}
    # the volumes point at the objects in the file
    pod_specs = [kube["DaskJob"]["spec"]["job"]["spec"], kube["DaskJob"]["spec"]["cluster"]["spec"]["worker"]["spec"]]
    claims = {v["persistentVolumeClaim"]["claimName"] for s in pod_specs for v in s["volumes"]
              if "persistentVolumeClaim" in v}
    maps = {v["configMap"]["name"] for s in pod_specs for v in s["volumes"] if "configMap" in v}
    assert claims == {kube["PersistentVolumeClaim"]["metadata"]["name"]}
    assert maps == {kube["ConfigMap"]["metadata"]["name"]}


def test_kubernetes_commands_exist_in_the_installed_dask(kube: dict[str, dict]) -> None:
    c = _containers(kube)
    assert c["scheduler"]["args"][:2] == ["dask", "scheduler"]
    assert c["worker"]["args"][:2] == ["dask", "worker"]
    assert c["driver"]["args"][:2] == ["consentcrawl", "run"]
    subcommands = {e.name for e in entry_points(group="dask_cli")}
    assert {"scheduler", "worker"} <= subcommands
    legacy = {"dask-scheduler", "dask-worker"}  # removed in distributed 2026.6.0
    assert not legacy & {a for x in c.values() for a in x["args"]}
    assert c["worker"]["args"].count("--nthreads") == 1
    assert c["worker"]["args"][c["worker"]["args"].index("--nthreads") + 1] == "1"


def test_kubernetes_carries_the_documented_dask_settings(kube: dict[str, dict]) -> None:
    import distributed

    c = _containers(kube)
    for role in ("scheduler", "worker"):
        cfg = _dask_config(_env(c[role]))
        for key, value in EMBEDDED.items():
            assert dask.config.get(key, config=cfg) == value, (role, key)
        environ = dask.config.get("distributed.nanny.pre-spawn-environ", config=cfg)
        assert environ["MALLOC_TRIM_THRESHOLD_"] is None and environ["OMP_NUM_THREADS"] == 1, role
    routes = dask.config.get("distributed.scheduler.http.routes", config=_dask_config(_env(c["scheduler"])))
    defaults = yaml.safe_load((Path(distributed.__file__).parent / "distributed.yaml").read_text())
    assert set(defaults["distributed"]["scheduler"]["http"]["routes"]) <= set(routes)
    assert "distributed.http.scheduler.api" in routes


def test_the_operator_builds_pods_the_service_and_autoscaler_find(kube: dict[str, dict]) -> None:
    ctl = pytest.importorskip("dask_kubernetes.operator.controller.controller",
                              reason="dask-kubernetes is not installed (the cluster extra)")
    job = kube["DaskJob"]
    name, namespace = job["metadata"]["name"], "crawl"
    cluster_spec = job["spec"]["cluster"]["spec"]
    # what daskjob_create_components and daskcluster_create_components build
    cluster = ctl.build_cluster_spec(name, cluster_spec["worker"], cluster_spec["scheduler"], {}, {})
    scheduler = ctl.build_scheduler_deployment_spec(name, cluster_spec["scheduler"]["spec"], {}, {})
    service = ctl.build_scheduler_service_spec(name, cluster_spec["scheduler"]["service"], {}, {})
    group = ctl.build_default_worker_group_spec(name, cluster_spec["worker"], {}, {})
    worker = ctl.build_worker_deployment_spec(group["metadata"]["name"], namespace, name, "abc12",
                                              cluster_spec["worker"]["spec"], {}, {})
    runner = ctl.build_job_pod_spec(name, name, namespace, job["spec"]["job"]["spec"], {}, {})
    assert cluster["metadata"]["name"] == name
    pod_labels = scheduler["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert worker["spec"]["template"]["metadata"]["labels"][COMPONENT_LABEL] == "worker"
    assert not service["spec"]["selector"].items() <= worker["spec"]["template"]["metadata"]["labels"].items()
    # the autoscaler's lookups (daskautoscaler_adapt)
    assert group["metadata"]["name"] == f"{kube['DaskAutoscaler']['spec']['cluster']}-default"
    assert service["metadata"]["name"] == f"{kube['DaskAutoscaler']['spec']['cluster']}-scheduler"
    address = f"tcp://{service['metadata']['name']}.{namespace}.svc.cluster.local:8786"
    for pod in (worker["spec"]["template"], runner):
        for container in pod["spec"]["containers"]:
            env = _env(container)
            assert env["DASK_SCHEDULER_ADDRESS"] == address
            args = _kube_expand(container["args"], env)
            assert "$(" not in " ".join(args)
    (driver,) = runner["spec"]["containers"]
    expanded = _kube_expand(driver["args"], _env(driver))
    assert expanded[expanded.index("--scheduler") + 1] == address


@pytest.fixture
def kube_processes(kube: dict[str, dict], tmp_path: Path) -> Iterator[dict]:
    """The YAML's scheduler and worker commands as local processes, with the environment the operator adds."""
    if DASK is None:
        pytest.skip("the `dask` command is not on PATH")
    c = _containers(kube)
    base = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    base["PYTHONPATH"] = str(ROOT)
    sched_file = tmp_path / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": tmp_path, "start_new_session": True}
    # ports 0: other tests may hold 8786/8787 on this machine
    procs = [subprocess.Popen([DASK, *c["scheduler"]["args"][1:], "--port", "0", "--dashboard-address", ":0",
                               "--scheduler-file", str(sched_file)], env={**base, **_env(c["scheduler"])}, **quiet)]
    try:
        info = _wait_for(sched_file, "address")
        address = "tcp://127.0.0.1:" + info["address"].rsplit(":", 1)[1]
        name = "consentcrawl-default-worker-abc12"
        env = {**base, **_env(c["worker"]), "DASK_SCHEDULER_ADDRESS": address, "DASK_WORKER_NAME": name}
        procs.append(subprocess.Popen([DASK, *_kube_expand(c["worker"]["args"], env)[1:]], env=env, **quiet))
        yield {"address": address, "dashboard": info["services"]["dashboard"], "worker_name": name,
               "procs": procs, "driver": c["driver"]}
    finally:
        _stop(procs)


@pytest.mark.slow
def test_kubernetes_scheduler_worker_and_driver_commands_run(kube: dict[str, dict], kube_processes: dict,
                                                            tmp_path: Path) -> None:
    from distributed import Client

    address = kube_processes["address"]
    with Client(address, timeout="30s") as client:
        client.wait_for_workers(1, timeout=90)
        info = client.scheduler_info()
        (worker,) = info["workers"].values()
        assert worker["name"] == kube_processes["worker_name"] and worker["nthreads"] == 1
        assert worker["memory_limit"] == 4 * 2**30
        probe = client.run(lambda: (dask.config.get("distributed.worker.profile.enabled"),
                                    os.environ.get("MALLOC_TRIM_THRESHOLD_")))
        assert list(probe.values()) == [(False, None)]
        assert client.run_on_scheduler(lambda: dask.config.get("distributed.scheduler.worker-saturation")) == 1.0
    port = kube_processes["dashboard"]
    assert urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10).read() == b"ok"
    target = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/adaptive_target", timeout=10).read())
    assert "workers" in target  # what the DaskAutoscaler reads

    # the driver: the ConfigMap's run config with /data and /config mapped into tmp_path, one sample shard
    run = yaml.safe_load(kube["ConfigMap"]["data"]["run.yaml"])
    data = tmp_path / "data"
    (data / "snapshots").mkdir(parents=True)
    shutil.copy(SAMPLE / "robots-snapshot.parquet", data / Path(run["robots_snapshot"]).relative_to("/data"))
    run = {**run, "inputs": [str(SAMPLE / "sample-00000.warc.gz")],
           "output": str(data / Path(run["output"]).relative_to("/data")),
           "robots_snapshot": str(data / Path(run["robots_snapshot"]).relative_to("/data"))}
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "run.yaml").write_text(yaml.safe_dump(run))
    driver = kube_processes["driver"]
    args = _kube_expand(driver["args"], {**_env(driver), "DASK_SCHEDULER_ADDRESS": address})
    args = [a.replace("/config/", f"{tmp_path}/config/", 1) if a.startswith("/config/") else a for a in args]
    assert args[0] == "consentcrawl"
    res = subprocess.run([sys.executable, "-m", "pipeline.cli", *args[1:]], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stdout + res.stderr
    assert (Path(run["output"]) / "manifest.json").is_file()


# ----------------------------------------------------------------------------------------- dashboard

@pytest.mark.skipif(find_spec("bokeh") is not None, reason="bokeh is installed: the dashboard is real")
def test_without_bokeh_the_scheduler_still_lists_a_dashboard_service() -> None:
    """Why runner._dashboard cannot trust scheduler_info()["services"]: the page only says "Dask needs bokeh"."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        port = client.scheduler_info()["services"].get("dashboard")
        assert port
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10).read()
    assert b"Dask needs bokeh" in page


@pytest.mark.skipif(find_spec("bokeh") is not None, reason="bokeh is installed: the dashboard is real")
def test_no_dashboard_link_without_bokeh() -> None:
    from distributed import Client, LocalCluster

    from pipeline.runner import _dashboard

    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        assert _dashboard(client) == ""
