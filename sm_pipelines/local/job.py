"""What every local step shares: its context, its failure, the default request (the step's
evaluated Arguments) and running a job's process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sm_pipelines.config.naming import sagemaker_arn
from sm_pipelines.local import sandbox as sandboxes
from sm_pipelines.local.images import ImageMap
from sm_pipelines.local.s3_endpoint import job_variables, s3_endpoint
from sm_pipelines.local.state import LocalState

# SageMaker's exception types, used to match a failure against the step's RetryPolicies.
JOB_INTERNAL_ERROR = "SageMaker.JOB_INTERNAL_ERROR"
CAPACITY_ERROR = "SageMaker.CAPACITY_ERROR"
SERVICE_FAULT = "Step.SERVICE_FAULT"
CONTAINER_ROOT = "/opt/ml/"


class StepFailure(Exception):
    """A step that did not succeed. `exception_type` is None for errors SageMaker never retries
    (the job's own code failing, a bad argument), else the type a RetryPolicy may match."""

    def __init__(self, reason: str, exception_type: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exception_type = exception_type


@dataclass
class JobContext:
    state: LocalState
    pipeline: str
    execution_id: str
    step: str
    attempt: int
    sandbox: Path
    log_file: Path
    cwd: Path
    region: str
    account: str
    images: ImageMap = field(default_factory=ImageMap)
    lambdas: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    # The `unshare` prefix when the job gets its sandbox mounted at /opt/ml; None: rewriting.
    namespace: tuple[str, ...] | None = None
    # The run's loopback S3 endpoint over the state (None: each job starts its own).
    s3_url: str | None = None

    @property
    def job_name(self) -> str:
        safe = "".join(c if c.isalnum() or c == "-" else "-" for c in self.step)
        return f"pipelines-{self.execution_id}-{safe}"[:57] + f"-a{self.attempt}"

    def named(self, prefix: Any) -> str:
        """The job's name: SageMaker's `pipelines-<execution>-<step>` one, or, when the SDK was
        told `use_custom_job_prefix=True` (the definition then carries the name), that prefix
        with this run's suffix, within the 63 characters a job name may have."""
        if not isinstance(prefix, str) or not prefix:
            return self.job_name
        return f"{prefix[:42]}-{self.execution_id}-a{self.attempt}"[:63]

    def arn(self, kind: str, name: str) -> str:
        return sagemaker_arn(self.region, self.account, kind, name)

    def container_path(self, path: str) -> Path:
        """Where a container path such as /opt/ml/processing/input/x lives in the sandbox."""
        return self.sandbox / path.lstrip("/")

    def job_path(self, path: str) -> str:
        """A container path as the job sees it: itself under a mounted /opt/ml, else its place
        in the sandbox."""
        return path if self.namespace else str(self.container_path(path))

    def rewrite(self, value: Any) -> Any:
        """Without a mounted /opt/ml, container paths inside arguments and variables point into
        the sandbox instead (a path written in the job's own code cannot be rewritten)."""
        if self.namespace:
            return value
        if isinstance(value, str) and value.startswith(CONTAINER_ROOT):
            return str(self.container_path(value))
        if isinstance(value, str) and ":" in value and CONTAINER_ROOT in value:
            return ":".join(str(self.rewrite(part)) for part in value.split(":"))
        return value

    def interpreter(self, image: str | None) -> str:
        return self.images.python(image)


@contextlib.contextmanager
def job_s3(ctx: JobContext) -> Iterator[str]:
    """The S3 endpoint a job's process uses: the run's, else one for this job alone."""
    if ctx.s3_url:
        yield ctx.s3_url
        return
    with s3_endpoint(ctx.state.s3_root, ctx.region) as url:
        yield url


def evaluated_arguments(raw: dict[str, Any], scope: Any) -> dict[str, Any]:
    """A step's request: its Arguments with every expression evaluated (what caching compares
    and what the job receives)."""
    return scope.evaluate(raw.get("Arguments", {}))


def command_for(ctx: JobContext, image: str | None, command: list[str]) -> list[str]:
    """Replace a leading python executable by the interpreter configured for the image."""
    name = Path(command[0]).name if command else ""
    if name in ("python", "python3") or name.startswith("python3."):
        return [ctx.interpreter(image), *command[1:]]
    return command


def run_job(
    ctx: JobContext,
    command: list[str],
    env: dict[str, str],
    cwd: Path,
    timeout: float | None,
    image: str | None = None,
) -> str:
    """Run the job's process, appending its output to the step log; return its output.

    Exit codes follow SageMaker: a non-zero exit is the job's own error (AlgorithmError, not
    retried); a process killed by a signal (out of memory, host fault) is an internal error that
    a retry policy may retry.
    """
    ctx.log_file.parent.mkdir(parents=True, exist_ok=True)
    output_file = ctx.sandbox / "job-output.log"
    output_file.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **ctx.environment, **env}
    # `python`, `python3` and `pip` inside the job are the image's (a launcher script calls them
    # by name), and what `pip install` adds for this image is on its path.
    interpreter = ctx.interpreter(image)
    tools = sandboxes.tool_dir(ctx.sandbox, ctx.state.root, interpreter, image)
    full_env["PATH"] = os.pathsep.join([str(tools), full_env.get("PATH", os.defpath)])
    site = str(sandboxes.image_site(ctx.state.root, image))
    full_env["PYTHONPATH"] = os.pathsep.join(
        part for part in (full_env.get("PYTHONPATH", ""), site) if part
    )
    shown = command
    if ctx.namespace:
        ml_dir = ctx.container_path("/opt/ml")
        ml_dir.mkdir(parents=True, exist_ok=True)
        command = sandboxes.wrap(ctx.namespace, ml_dir, command)
    try:
        with (
            job_s3(ctx) as url,
            output_file.open("w", encoding="utf-8") as out,
        ):
            # The job's own boto3 S3 calls (the SDK's repack script, a user's code) reach the
            # state folder, as its S3 would in AWS; a runtime that set its own endpoint keeps it.
            if "AWS_ENDPOINT_URL_S3" not in env:
                full_env.update(job_variables(url, ctx.region, full_env))
            process = subprocess.run(
                command,
                env=full_env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )
        code = process.returncode
    except FileNotFoundError:
        raise StepFailure(f"ClientError: executable {command[0]!r} not found") from None
    except subprocess.TimeoutExpired:
        code = None
    text = output_file.read_text(encoding="utf-8", errors="replace")
    with ctx.log_file.open("a", encoding="utf-8") as log:
        log.write(f"===== {ctx.step} attempt {ctx.attempt}: {' '.join(shown)}\n{text}")
    if code is None:
        raise StepFailure(f"job stopped after MaxRuntimeInSeconds ({timeout:.0f} s)")
    if code < 0 or code in (128 + signal.SIGKILL, 128 + signal.SIGTERM):
        signum = -code if code < 0 else code - 128
        raise StepFailure(
            f"InternalServerError: the job's process was killed by signal {signum}",
            JOB_INTERNAL_ERROR,
        )
    if ctx.namespace and code == sandboxes.MOUNT_FAILED and "mount" in text:
        raise StepFailure(
            "InternalServerError: could not mount the sandbox at /opt/ml", JOB_INTERNAL_ERROR
        )
    if code != 0:
        lines = [line for line in text.splitlines() if line.strip()]
        last = lines[-1].strip() if lines else "no output"
        raise StepFailure(f"AlgorithmError: exit code {code}: {last}")
    return text
