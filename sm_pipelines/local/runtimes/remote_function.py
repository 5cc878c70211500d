"""`@step` functions: the training job the SDK compiles a decorated Python function into, run as
SageMaker's remote-function runtime runs it.

The job's request carries everything: the `sagemaker_remote_function_bootstrap` channel holds
the SDK's own `job_driver.sh`, `bootstrap_runtime_environment.py` and
`runtime_environment_manager.py` (uploaded when the definition was built), a
`pre_exec_script_and_dependencies` channel the requirements file and `pre_exec.sh`, and the
ContainerEntrypoint/ContainerArguments are `/bin/bash job_driver.sh --s3_base_uri ... ` as the
container runs them. Locally `steps/training.py` stages the channels under /opt/ml/input/data,
writes the container's config files and packs the model as for any training job; this module
checks the request and patches the driver's bootstrap line, and the entrypoint runs unchanged
inside the job's mount namespace: the SDK's bootstrap runs the pre-execution commands in the
workspace and installs the requirements, then
`python -m sagemaker.remote_function.invoke_function` deserializes the function and its
arguments from S3 (checking their SHA-256), resolves parameters, execution variables and other
steps' `DelayedReturn`s, calls it, and writes the pickled return value and `results.json` (what
`DelayedReturn` compiles to: `JsonGet(s3_uri=<S3OutputPath>/results.json, "Result...")`) under
the step's S3OutputPath, or, when the function raises, the pickled exception and
/opt/ml/output/failure (`repr(exception)`), which becomes the step's one-line failure reason.

S3 is the state folder through the run's loopback endpoint (`sm_pipelines.local.s3_endpoint`,
`AWS_ENDPOINT_URL_S3` for every job). Why not patch the SDK's S3 helpers inside the job, or run
moto seeded from the state: the remote-function runtime and user code reach S3 through plain
boto3 clients and resources (`download_fileobj`, `upload_fileobj`, `Object.put`, a user's own
`boto3.client("s3")`), so an endpoint keeps all of that code unmodified and covers what a
function reads or writes itself; and an endpoint over the folder copies nothing in or out, so
a large artifact is never loaded into memory, parallel steps see each other's writes at once,
and nothing is lost when a job dies mid-way (moto keeps objects in memory and would need the
whole folder seeded and synced back).

One change to the container's behaviour: the bootstrap installs requirements with
`python -m pip install -r requirements.txt -U`, which here would upgrade the executor's own
environment from the package index. It runs through a small wrapper that sends that install to
the job's `pip` (the executor's per-image shim, sandbox.py): what the image's interpreter lacks
is installed once into the image's folder, and a package that cannot be had fails the step in
one line naming it. The wrapper also skips the bootstrap's `sudo chmod` of the job directories
for a non-root user (the sandbox is the job's own).

Needs /opt/ml mounted (a mount namespace): the SDK's runtime uses literal container paths that
path rewriting cannot reach. Spark (`spark_config`) and `use_mpirun` jobs are refused; `torchrun`
runs when the image's environment has torch.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sm_pipelines.local.job import JobContext, StepFailure

ML = "/opt/ml"
BOOTSTRAP_CHANNEL = "sagemaker_remote_function_bootstrap"
DRIVER = f"{ML}/input/data/{BOOTSTRAP_CHANNEL}/job_driver.sh"
BOOTSTRAP_SCRIPT = f"{ML}/input/data/{BOOTSTRAP_CHANNEL}/bootstrap_runtime_environment.py"
# The bootstrap line of every job_driver.sh variant the SDK writes (plain, torchrun, mpirun).
_BOOTSTRAP_LINE = re.compile(rf"^(\s*python3?) ({re.escape(BOOTSTRAP_SCRIPT)})", re.MULTILINE)
_PIP_FAILURE = re.compile(r"pip: cannot install [^\n]*")

_BOOTSTRAP_WRAPPER = '''"""Run the SDK's bootstrap_runtime_environment.py (argv[1]) as the
container runs it, except that requirements go through the job's `pip` (the executor's
per-image shim) instead of `python -m pip install -U` into the interpreter's own environment,
and that the job directories are not chmod-ed with sudo (the local sandbox is the job's own)."""
import os
import runpy
import sys

script = sys.argv[1]
sys.path.insert(0, os.path.dirname(script))
import runtime_environment_manager as manager  # noqa: E402  (the copy beside the script)


def _install_requirements_txt(self, local_path, python_executable):
    command = f"pip install -r {local_path}"
    manager.logger.info("Running command: '%s' in the dir: '%s' ", command, os.getcwd())
    manager._run_shell_cmd(command)
    manager.logger.info("Command %s ran successfully", command)


def _change_dir_permission(self, dirs, new_permission):
    manager.logger.info("Not changing permissions of %s locally.", dirs)


manager.RuntimeEnvironmentManager._install_requirements_txt = _install_requirements_txt
manager.RuntimeEnvironmentManager.change_dir_permission = _change_dir_permission
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
'''


def matches(arguments: dict[str, Any]) -> bool:
    """Is this training request a remote-function (`@step`) job?"""
    channels = arguments.get("InputDataConfig") or []
    return any(channel.get("ChannelName") == BOOTSTRAP_CHANNEL for channel in channels)


def _option(arguments: list[str], name: str) -> str | None:
    for index, value in enumerate(arguments[:-1]):
        if value == name:
            return arguments[index + 1]
    return None


def _refusal(ctx: JobContext, entrypoint: list[str], arguments: list[str]) -> str | None:
    if entrypoint[-1:] != [DRIVER]:
        return (
            f"the @step job's entrypoint {' '.join(entrypoint) or '(none)'} is not the "
            "remote-function driver (spark_config jobs need SageMaker's Spark container)"
        )
    if _option(arguments, "--distribution") == "mpirun":
        return "use_mpirun needs a cluster of hosts reachable over SSH"
    if not ctx.namespace:
        return (
            "a @step function needs /opt/ml mounted (a private mount namespace): the SDK's "
            "runtime writes literal /opt/ml paths, which path rewriting cannot reach"
        )
    return None


def _driver(ml: Path, wrapper: Path) -> None:
    """The SDK's job_driver.sh with its bootstrap line run through the wrapper."""
    driver = ml / DRIVER.removeprefix(f"{ML}/")
    if not driver.is_file():
        raise StepFailure(f"ClientError: channel {BOOTSTRAP_CHANNEL} has no job_driver.sh")
    text = driver.read_text(encoding="utf-8")
    patched, count = _BOOTSTRAP_LINE.subn(rf"\1 {wrapper} \2", text)
    if not count:
        raise StepFailure(
            "ClientError: this SDK's job_driver.sh does not run bootstrap_runtime_environment.py "
            "as the local executor expects"
        )
    driver.write_text(patched, encoding="utf-8")
    wrapper.write_text(_BOOTSTRAP_WRAPPER, encoding="utf-8")


def one_line(text: str) -> str:
    """The failure file's `repr(exception)` on one line (a failed install: the pip line)."""
    pip = _PIP_FAILURE.search(text)
    if pip and text.startswith("RuntimeEnvironmentError"):
        return f"RuntimeEnvironmentError: {pip.group(0).strip()}"
    line = " ".join(text.split())
    return line if len(line) <= 500 else line[:497] + "..."


MISSING_CHANNEL_HINT = (
    "the SDK uploads a @step's files when the definition is built: build it with "
    "sm_pipelines.local.session.state_session"
)


def check(ctx: JobContext, arguments: dict[str, Any]) -> None:
    """Refuse, in one line, what the local runtime cannot run."""
    algorithm = arguments.get("AlgorithmSpecification") or {}
    entrypoint = [str(part) for part in algorithm.get("ContainerEntrypoint") or []]
    container_arguments = [str(part) for part in algorithm.get("ContainerArguments") or []]
    refusal = _refusal(ctx, entrypoint, container_arguments)
    if refusal:
        raise StepFailure(f"ClientError: {refusal}")


def command(
    ctx: JobContext, arguments: dict[str, Any], name: str
) -> tuple[list[str], dict[str, str], Path]:
    """The job's command line (the definition's own driver, its bootstrap line patched), the
    variables the container sets, and its working folder; the channels must be staged."""
    ml = ctx.container_path(ML)
    _driver(ml, ctx.sandbox / "remote_function_bootstrap.py")
    algorithm = arguments.get("AlgorithmSpecification") or {}
    entrypoint = [str(part) for part in algorithm.get("ContainerEntrypoint") or []]
    container_arguments = [str(part) for part in algorithm.get("ContainerArguments") or []]
    workdir = ctx.sandbox / "workdir"
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        "TRAINING_JOB_NAME": name,
        "TRAINING_JOB_ARN": ctx.arn("training-job", name),
        "PYTHONUNBUFFERED": "1",
    }
    return [*entrypoint, *container_arguments], env, workdir
