"""Start and stop `python -m devstack` as a subprocess, for end-to-end tests in any test folder."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from devstack.template import load_template

TOOLS_DIR = Path(__file__).resolve().parents[1]
READY = re.compile(r"ready: API (\S+) · AWS (\S+)")
# Tests and benches send one account's requests as fast as they can (and poll): each account's own rate limit
# (template.yaml's AccountRateLimit) would answer them 429. A test of that limit sets DEVSTACK_PARAMETERS itself.
UNTHROTTLED = "AccountRateLimit=100000,AccountBurstLimit=100000"


def _pump(stream: IO[bytes], lines: queue.Queue[str | None], log_path: Path | None) -> None:
    # The first line goes to the waiting caller; every line also goes to the log, or to this process's stdout
    # (where pytest captures it) when there is no log.
    log = log_path.open("ab") if log_path else None
    first = True
    try:
        for raw in iter(stream.readline, b""):
            if first:
                lines.put(raw.decode("utf-8", errors="replace"))
                first = False
            if log is not None:
                log.write(raw)
                log.flush()
            else:
                # The test's captured stdout may already be closed when the stack's last lines arrive.
                with contextlib.suppress(ValueError, OSError):
                    sys.stdout.write(raw.decode("utf-8", errors="replace"))
    finally:
        lines.put(None)
        stream.close()
        if log is not None:
            log.close()


def start_local_stack(
    env: Mapping[str, str] | None = None,
    *,
    template: Path | None = None,
    timeout: float = 60.0,
    log_path: Path | None = None,
) -> tuple[subprocess.Popen[bytes], str, str]:
    """Start the local stack (on OS-chosen ports unless env sets them); returns (process, api_url, aws_url)."""
    # Unbuffered, so handlers' log lines reach log_path while the stack runs, not when it exits.
    child_env = {**os.environ, "AWS_PORT": "0", "API_PORT": "0", "PYTHONUNBUFFERED": "1", **(env or {})}
    declared = load_template(template or TOOLS_DIR.parent / "template.yaml").body.get("Parameters") or {}
    if {"AccountRateLimit", "AccountBurstLimit"} <= set(declared):
        child_env.setdefault("DEVSTACK_PARAMETERS", UNTHROTTLED)
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TOOLS_DIR), child_env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "devstack"]
    if template is not None:
        command += ["--template", str(template)]
    # stderr goes to log_path (appended, like stdout) or is inherited, so a failing start shows its log.
    with contextlib.ExitStack() as files:
        stderr = files.enter_context(log_path.open("ab")) if log_path else None
        process = subprocess.Popen(
            command, env=child_env, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL
        )
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines, log_path), daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        stop_local_stack(process)
        raise RuntimeError(f"the local stack printed no ready line within {timeout} s") from None
    match = READY.search(line or "")
    if match is None:
        stop_local_stack(process)
        where = f"; its output is in {log_path}" if log_path else ""
        raise RuntimeError(f"the local stack did not start (exit code {process.returncode}){where}")
    return process, match.group(1), match.group(2)


def stop_local_stack(process: subprocess.Popen[bytes], timeout: float = 15.0) -> int:
    """Send SIGTERM and wait; returns the exit code (killing the process if it hangs)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
