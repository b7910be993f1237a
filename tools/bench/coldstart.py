"""Target 2, as issue 13 revised it: each function's handler imports in at most 1.1 times what the frameworks it is
built on cost by themselves (its floor): our own code adds at most 10 % to Powertools, pydantic and boto3.

Each sample is a fresh interpreter started with ``-S`` (no site-packages of this machine) whose ``sys.path``
is laid out like a Lambda sandbox: the function's code (``/var/task``), the project's layer
(``/opt/python``, from ``sam build`` when it exists), and a throwaway site-packages holding only what
the python3.13 runtime (boto3) and AWS's public Powertools layer (Powertools with its tracer extra,
pydantic) provide, installed with uv from the pins of requirements/dev.txt. The function's template
environment (Globals merged) and the variables Lambda sets are exported.

A function sample times ``import <handler module>`` followed by ``import boto3`` in one interval, so a
handler cannot look cheaper by deferring boto3 to its first request; the baseline times ``import boto3``
alone. Times are the CPU time of the importing process (``time.process_time``): imports are CPU-bound,
and CPU time is far less inflated than wall time when other work shares the machine. The layer is the built one
with the bytecode it ships (layers/domain/Makefile); the rest runs with warm bytecode caches (a discarded first
round writes them). Each sample is paired with a baseline sample taken just before it, so that load from other
work hits both sides of a ratio alike.

The figure of a function is the median, over the rounds, of (its paired ratio) / (its floor's paired ratio in
the same round). Its floor is the framework code it imports, with nothing of ours: Logger for the authorizer,
Logger + Tracer + the REST resolver for the API routes, Logger + Tracer + Powertools' SQS batch processing and
a pydantic model for fan-out and the dispatcher (their exactly-once claims are ours, not Powertools'
idempotency), ``import boto3`` alone for the route fallback. Each function's ratio over a bare ``import boto3``
(the goal before issue 13) is printed beside it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from bench.figures import Figure
from devstack.functions import Function, load_functions
from devstack.provision import plan
from devstack.template import load_template

ROOT = Path(__file__).resolve().parents[2]
GOAL = 1.1  # over the function's floor
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "5"))
# The runtime's SDK and the public Powertools layer's content, at the versions the tests pin.
RUNTIME_PACKAGES = ("boto3", "aws-lambda-powertools[tracer]", "pydantic", "snapshot-restore-py")
CACHE = Path(tempfile.gettempdir()) / "apviso-bench"

_TIMER = "import time; _t = time.process_time()\n{imports}\nprint(time.process_time() - _t)\n"


def runtime_site_packages() -> Path:
    """A site-packages with only what Lambda's runtime and the Powertools layer provide (cached by the pins)."""
    pins = (ROOT / "requirements" / "dev.txt").read_bytes()
    target = CACHE / f"runtime-{hashlib.sha256(pins + repr(RUNTIME_PACKAGES).encode()).hexdigest()[:12]}"
    if (target / ".complete").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    uv = ROOT / ".venv" / "bin" / "uv"
    pins_file = str(ROOT / "requirements" / "dev.txt")
    command = [str(uv), "pip", "install", "--quiet", "--target", str(target), "--python", sys.executable]
    subprocess.run([*command, "--constraint", pins_file, *RUNTIME_PACKAGES], check=True)
    (target / ".complete").touch()
    return target


def layer_source() -> tuple[Path, bool]:
    """The built layer (what Lambda mounts at /opt/python), or the source folder when nothing is built."""
    built = ROOT / ".aws-sam" / "build" / "DomainLayer" / "python"
    return (built, True) if built.is_dir() else (ROOT / "layers" / "domain", False)


def lambda_environment(function: Function, task: Path) -> dict[str, str]:
    """The variables Lambda sets, then the function's own (template Globals merged)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "LAMBDA_TASK_ROOT": str(task),
        "_HANDLER": function.handler,
        **function.environment,
    }


def _sample(code: str, path: list[Path], env: Mapping[str, str], cwd: Path) -> float:
    script = f"import sys; sys.path[:0] = {[str(p) for p in path]!r}\n{code}"
    done = subprocess.run(
        [sys.executable, "-S", "-c", script], env=dict(env), cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(last)
    return float(done.stdout.strip().splitlines()[-1])


# What the functions' frameworks cost by themselves (with boto3 after them, as in a function sample): when a
# floor is above the goal, no handler built on that framework can meet it.
_TRACED = "from aws_lambda_powertools import Logger, Tracer\nLogger(); Tracer(patch_modules=['botocore'])"
FLOORS = {
    "Logger": "from aws_lambda_powertools import Logger\nLogger()",
    "pydantic BaseModel": "from pydantic import BaseModel\nclass Job(BaseModel):\n    id: str",
    "Logger+Tracer": _TRACED,
    "REST resolver+Tracer": (
        f"{_TRACED}\n"
        "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
        "APIGatewayRestResolver(enable_validation=True)"
    ),
    # Fan-out and the dispatcher also validate their messages with pydantic models.
    "SQS batch+pydantic+Tracer": (
        f"{_TRACED}\n"
        "from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType\n"
        "BatchProcessor(event_type=EventType.SQS)\n"
        "from pydantic import BaseModel\nclass Job(BaseModel):\n    id: str"
    ),
}


# The floor each function is built on (None: boto3 alone, the baseline); the API routes are the default.
FLOOR_OF: dict[str, str | None] = {
    "AuthorizerFunction": "Logger",
    "RouteFallbackFunction": None,
    "FanoutFunction": "SQS batch+pydantic+Tracer",
    "DispatcherFunction": "SQS batch+pydantic+Tracer",
    "RecoveryBatchesFunction": "SQS batch+pydantic+Tracer",
}
API_FLOOR = "REST resolver+Tracer"


def measure() -> list[Figure]:
    template = load_template(ROOT / "template.yaml")
    functions = load_functions(template, plan(template))
    runtime = runtime_site_packages()
    layer, built = layer_source()
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as scratch:
        # Copies, like the unzipped package: bytecode caches land here, never in the build or the source tree.
        opt = Path(scratch) / "opt" / "python"
        shutil.copytree(layer, opt)  # with the bytecode the layer ships
        # name -> (sys.path, environment, timed code)
        cases: dict[str, tuple[list[Path], dict[str, str], str]] = {}
        for logical_id, function in sorted(functions.items()):
            task = Path(scratch) / "task" / logical_id
            shutil.copytree(function.code_uri, task, ignore=shutil.ignore_patterns("__pycache__"))
            module = function.handler.rsplit(".", 1)[0]
            code = _TIMER.format(imports=f"import {module}\nimport boto3")
            cases[logical_id] = ([task, opt, runtime], lambda_environment(function, task), code)
        some_env = lambda_environment(next(iter(functions.values())), Path(scratch))
        for name, imports in FLOORS.items():
            cases[f"floor {name}"] = ([opt, runtime], some_env, _TIMER.format(imports=f"{imports}\nimport boto3"))
        baseline_code = _TIMER.format(imports="import boto3")
        # Each sample is paired with a bare boto3 sample taken just before it, so that load from other work on
        # this shared machine hits both sides of a ratio alike; round 0 only warms the bytecode caches.
        baselines: list[float] = []
        ratios: dict[str, list[float]] = {name: [] for name in cases}
        errors: dict[str, str] = {}
        for round_ in range(SAMPLES + 1):
            for name, (path, env, code) in cases.items():
                if name in errors:
                    continue
                bare = _sample(baseline_code, [runtime], some_env, Path(scratch))
                try:
                    took = _sample(code, path, env, path[0])
                except RuntimeError as error:
                    errors[name] = str(error)
                    continue
                if round_:
                    baselines.append(bare)
                    ratios[name].append(took / bare)
    bare_ms = statistics.median(baselines) * 1000
    source = "built layer, with its bytecode" if built else "layer source (not built)"
    figures = [Figure("cold start: bare import boto3", bare_ms, unit=" ms", detail=f"median, {source}")]
    for name in FLOORS:
        if f"floor {name}" in errors:
            figures.append(Figure(f"  floor: {name}", float("inf"), detail=f"import failed: {errors[f'floor {name}']}"))
            continue
        ratio = statistics.median(ratios[f"floor {name}"])
        detail = f"over bare boto3, median of {SAMPLES} paired samples, ~{ratio * bare_ms:.0f} ms"
        figures.append(Figure(f"  floor: {name}", ratio, detail=detail))
    for name in sorted(functions):
        if name in errors:
            figures.append(Figure(f"cold start: {name}", float("inf"), GOAL, detail=f"import failed: {errors[name]}"))
            continue
        floor = FLOOR_OF.get(name, API_FLOOR)
        if floor is not None and f"floor {floor}" in errors:
            figures.append(Figure(f"cold start: {name}", float("inf"), GOAL, detail=f"floor {floor} failed"))
            continue
        floor_ratios = ratios[f"floor {floor}"] if floor else [1.0] * len(ratios[name])
        over_floor = statistics.median(own / base for own, base in zip(ratios[name], floor_ratios, strict=True))
        over_boto3 = statistics.median(ratios[name])
        detail = f"over {floor or 'import boto3'}; {over_boto3:.2f}x bare boto3, ~{over_boto3 * bare_ms:.0f} ms"
        figures.append(Figure(f"cold start: {name}", over_floor, GOAL, detail=detail))
    return figures
