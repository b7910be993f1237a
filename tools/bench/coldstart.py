"""Target 2, as issue 13 revised it: each function's handler imports in at most 1.1 times what the frameworks it is
built on cost by themselves (its floor): our own code adds at most 10 % to Powertools, pydantic and boto3.

Each case is a fresh interpreter started with ``-S`` (no site-packages of this machine) whose ``sys.path``
is laid out like a Lambda sandbox: the function's code (``/var/task``), the project's layer
(``/opt/python``, from ``sam build`` when it exists), and a throwaway site-packages holding only what
the python3.13 runtime (boto3) and AWS's public Powertools layer (Powertools with its tracer extra,
pydantic) provide, installed with uv from the pins of requirements/dev.txt. The function's template
environment (Globals merged) and the variables Lambda sets are exported.

A function case runs ``import <handler module>`` followed by ``import boto3``, so a handler cannot look cheaper
by deferring boto3 to its first request; the baseline runs ``import boto3`` alone. The layer is the built one with
the bytecode it ships (layers/domain/Makefile); the rest runs with warm bytecode caches (a first, uncounted run of
every case writes them).

What is compared is the number of instructions each import executes, counted by Valgrind (cachegrind, without its
cache simulation), less those of the interpreter starting and stopping (the same script with no import): on the
shared 2-core machine the CPU time of one import swings by up to 40 % from one run to the next, its instruction
count by under 0.1 %, so one count per case is exact where medians of timings were not. Valgrind counts what runs
in the process, not the kernel's file reads, and an instruction is not a fixed time; the figure is the share of
the work that is ours, which is what the goal asks.

The figure of a function is its count over its floor's. Its floor is the framework code it imports, with nothing
of ours: Logger for the authorizer, Logger + Tracer + the REST resolver for the API routes, Logger + Tracer +
Powertools' SQS batch processing and a pydantic model for fan-out, the dispatcher and the recovery batches (their
exactly-once claims are ours, not Powertools' idempotency), ``import boto3`` alone for the route fallback. Each
function's count over a bare ``import boto3`` (the goal before issue 13) is printed beside it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.figures import Figure
from devstack.functions import Function, load_functions
from devstack.provision import plan
from devstack.template import load_template

ROOT = Path(__file__).resolve().parents[2]
GOAL = 1.1  # over the function's floor
# The runtime's SDK and the public Powertools layer's content, at the versions the tests pin.
RUNTIME_PACKAGES = ("boto3", "aws-lambda-powertools[tracer]", "pydantic", "snapshot-restore-py")
CACHE = Path(tempfile.gettempdir()) / "apviso-bench"

VALGRIND = shutil.which("valgrind")


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


def _run(imports: str, path: list[Path], env: Mapping[str, str], cwd: Path, counted: bool) -> int:
    """The instructions ``imports`` took in a fresh interpreter on ``path`` (0 when not ``counted``: a warm-up)."""
    script = f"import sys; sys.path[:0] = {[str(p) for p in path]!r}\n{imports}"
    command = [sys.executable, "-S", "-c", script]
    with tempfile.NamedTemporaryFile(prefix="cachegrind-") as out:
        if counted:
            tool = ["--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out.name}"]
            command = [str(VALGRIND), "--quiet", *tool, *command]
        done = subprocess.run(command, env=dict(env), cwd=cwd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError((done.stderr.strip().splitlines() or ["no output"])[-1])
        summary = [line for line in Path(out.name).read_text().splitlines() if line.startswith("summary:")]
        return int(summary[0].split()[1]) if counted else 0


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
    if VALGRIND is None:
        return [Figure("cold start", float("inf"), GOAL, detail="valgrind is missing (apt-get install valgrind)")]
    template = load_template(ROOT / "template.yaml")
    functions = load_functions(template, plan(template))
    runtime = runtime_site_packages()
    layer, built = layer_source()
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as scratch:
        # Copies, like the unzipped package: bytecode caches land here, never in the build or the source tree.
        opt = Path(scratch) / "opt" / "python"
        shutil.copytree(layer, opt)  # with the bytecode the layer ships
        # name -> (sys.path, environment, imports)
        cases: dict[str, tuple[list[Path], dict[str, str], str]] = {}
        for logical_id, function in sorted(functions.items()):
            task = Path(scratch) / "task" / logical_id
            shutil.copytree(function.code_uri, task, ignore=shutil.ignore_patterns("__pycache__"))
            module = function.handler.rsplit(".", 1)[0]
            cases[logical_id] = (
                [task, opt, runtime],
                lambda_environment(function, task),
                f"import {module}\nimport boto3",
            )
        env = lambda_environment(next(iter(functions.values())), Path(scratch))
        for name, imports in FLOORS.items():
            cases[f"floor {name}"] = ([opt, runtime], env, f"{imports}\nimport boto3")
        cases["bare boto3"] = ([runtime], env, "import boto3")
        cases["interpreter"] = ([opt, runtime], env, "pass")

        def count(case: tuple[list[Path], dict[str, str], str]) -> int | str:
            path, case_env, imports = case
            fixed = {**case_env, "PYTHONHASHSEED": "0"}  # the same hashes, hence the same work, in every run
            try:
                _run(imports, path, fixed, path[0], counted=False)
                return _run(imports, path, fixed, path[0], counted=True)
            except RuntimeError as error:
                return str(error)

        # Deterministic counts: one run of each case, as many at once as there are cores.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            counts = dict(zip(cases, pool.map(count, cases.values()), strict=True))
    errors = {name: value for name, value in counts.items() if isinstance(value, str)}
    if "interpreter" in errors or "bare boto3" in errors:
        reason = errors.get("interpreter") or errors["bare boto3"]
        return [Figure("cold start", float("inf"), GOAL, detail=f"the baseline failed: {reason}")]
    startup = int(counts["interpreter"])
    own = {name: int(value) - startup for name, value in counts.items() if not isinstance(value, str)}
    bare = own["bare boto3"]
    source = "built layer, with its bytecode" if built else "layer source (not built)"
    detail = f"instructions, less the interpreter's own {startup / 1e6:.0f} M; {source}"
    figures = [Figure("cold start: bare import boto3", bare / 1e6, unit=" M", detail=detail)]
    for name in FLOORS:
        if f"floor {name}" in errors:
            figures.append(Figure(f"  floor: {name}", float("inf"), detail=f"import failed: {errors[f'floor {name}']}"))
            continue
        floor = own[f"floor {name}"]
        figures.append(Figure(f"  floor: {name}", floor / bare, detail=f"over bare boto3, {floor / 1e6:.0f} M"))
    for name in sorted(functions):
        floor_name = FLOOR_OF.get(name, API_FLOOR)
        floor_key = f"floor {floor_name}" if floor_name else "bare boto3"
        if name in errors or floor_key in errors:
            reason = f"import failed: {errors[name]}" if name in errors else f"{floor_key} failed"
            figures.append(Figure(f"cold start: {name}", float("inf"), GOAL, detail=reason))
            continue
        ours = own[name] - own[floor_key]
        detail = (
            f"over {floor_name or 'import boto3'}: {ours / 1e6:+.0f} M of {own[floor_key] / 1e6:.0f} M; "
            f"{own[name] / bare:.2f}x bare boto3"
        )
        figures.append(Figure(f"cold start: {name}", own[name] / own[floor_key], GOAL, detail=detail))
    return figures
