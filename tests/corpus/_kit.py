"""What corpus entries share: SDK building blocks with one bucket, role and image, and `Case`,
which runs the built definition through the `sm-pipelines` command line and reads the result."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_definition_config import PipelineDefinitionConfig
from sagemaker.workflow.steps import ProcessingStep

from sm_pipelines.cli import main
from sm_pipelines.local.execution import Execution, StepRecord, list_executions
from sm_pipelines.local.state import LocalState

REGION = "us-east-1"
BUCKET = "corpus"
PREFIX = f"s3://{BUCKET}/p"
ROLE = "arn:aws:iam::000000000000:role/corpus-runner"
IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/corpus:latest"
CODE = "/opt/ml/processing/input/code"
MACHINE: dict[str, Any] = {"instance_count": 1, "instance_type": "ml.m5.large"}

# The line a job script starts with to find a processing folder whether or not the executor
# could mount its sandbox at /opt/ml (SM_ML_ROOT is where /opt/ml is, as the job sees it).
ROOT = 'ROOT = os.path.join(os.environ.get("SM_ML_ROOT", "/opt/ml"), "processing")\n'


# Staged for every entry: a job that records that its step ran (the branch taken).
COMMON_SCRIPTS = {
    "mark.py": "import os, sys\n"
    + ROOT
    + 'open(os.path.join(ROOT, "mark", "ran.txt"), "w").write(sys.argv[1])\n'
}


def code_uri(script: str) -> str:
    return f"{PREFIX}/code/{script}"


def code_input(script: str) -> ProcessingInput:
    return ProcessingInput(input_name="code", source=code_uri(script), destination=CODE)


def output(name: str, destination: Any = None) -> ProcessingOutput:
    return ProcessingOutput(
        output_name=name,
        source=f"/opt/ml/processing/{name}",
        destination=destination if destination is not None else f"{PREFIX}/out/{name}",
    )


def processor(session: Any, script: str, **extra: Any) -> Processor:
    """A plain `Processor` whose entrypoint runs `script` from the code input."""
    return Processor(
        role=ROLE,
        image_uri=IMAGE,
        entrypoint=["python3", f"{CODE}/{script}"],
        sagemaker_session=session,
        **MACHINE,
        **extra,
    )


def script_step(
    session: Any,
    name: str,
    script: str,
    outputs: Sequence[str | ProcessingOutput] = (),
    inputs: Sequence[ProcessingInput] = (),
    arguments: list[Any] | None = None,
    env: dict[str, Any] | None = None,
    **step: Any,
) -> ProcessingStep:
    """A ProcessingStep running `script` with the given inputs, outputs and arguments."""
    made = processor(session, script, env=env) if env else processor(session, script)
    return ProcessingStep(
        name=name,
        step_args=made.run(
            inputs=[code_input(script), *inputs],
            outputs=[o if isinstance(o, ProcessingOutput) else output(o) for o in outputs],
            arguments=arguments,
        ),
        **step,
    )


def mark_step(session: Any, name: str, **step: Any) -> ProcessingStep:
    """A step that writes its own name to `<PREFIX>/ran/<name>/ran.txt`."""
    return script_step(
        session,
        name,
        "mark.py",
        outputs=[output("mark", f"{PREFIX}/ran/{name}")],
        arguments=[name],
        **step,
    )


def pipeline(
    session: Any,
    steps: list[Any],
    parameters: Sequence[Any] = (),
    custom_job_prefix: bool = False,
) -> Pipeline:
    return Pipeline(
        name="corpus",
        parameters=list(parameters),
        steps=steps,
        sagemaker_session=session,
        pipeline_definition_config=PipelineDefinitionConfig(
            use_custom_job_prefix=custom_job_prefix
        ),
    )


# -- running --------------------------------------------------------------------------------


@dataclass
class Cli:
    """One `sm-pipelines` command: exit code and what it printed."""

    code: int
    out: str
    err: str


@dataclass
class Run(Cli):
    """One `sm-pipelines run`: the command's outcome and the execution it started."""

    case: Case
    execution: Execution
    earlier: list[Run] = field(default_factory=list)
    # What an entry's `drive` saw between commands, for its `expect`.
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> LocalState:
        return self.case.state

    def step(self, name: str) -> StepRecord:
        return self.execution.steps[name]

    def statuses(self) -> dict[str, str]:
        return {name: record.status for name, record in self.execution.steps.items()}

    def s3(self, uri: str) -> Path:
        return self.state.s3_path(uri)

    def text(self, uri: str) -> str:
        return self.s3(uri).read_text(encoding="utf-8")

    def ran(self, step: str) -> bool:
        """Whether `mark_step` `step` ran in this execution (and wrote its name)."""
        path = self.s3(f"{PREFIX}/ran/{step}/ran.txt")
        return self.step(step).status == "Succeeded" and path.read_text() == step

    def log(self, step: str) -> str:
        path = self.state.execution_dir(self.execution.id) / "logs" / f"{step}.log"
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    def why(self) -> str:
        """What to print when a check fails: the failure and every step's log."""
        logs = "\n".join(f"--- {name}\n{self.log(name)}" for name in self.execution.steps)
        return f"exit {self.code}\n{self.out}\n{self.err}\n{logs}"


class Case:
    """One corpus entry's working folder, definition file and local state."""

    def __init__(self, name: str, workdir: Path, definition: str) -> None:
        self.name = name
        self.workdir = workdir
        self.definition = workdir / f"{name}.json"
        self.definition.write_text(definition, encoding="utf-8")
        self.state = LocalState(workdir / "state")
        self.runs: list[Run] = []
        self.background: list[subprocess.Popen[str]] = []
        # No environment file applies (as in a fresh folder), whatever the shell exports.
        self.isolated = ["--definitions", str(workdir / "definitions")]

    def put(self, uri: str, data: bytes | str) -> None:
        self.state.put_bytes(uri, data.encode() if isinstance(data, str) else data)

    def write(self, relative: str, text: str) -> Path:
        path = self.workdir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def cli(self, *args: str) -> Cli:
        """`sm-pipelines ARGS --state <state>` in the working folder, in this process (the
        command line's own entry point, `sm_pipelines.cli.main`)."""
        out, err = io.StringIO(), io.StringIO()
        here = Path.cwd()
        os.chdir(self.workdir)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main([*self.isolated, *args, "--state", str(self.state.root)])
        finally:
            os.chdir(here)
        return Cli(code, out.getvalue(), err.getvalue())

    def run_args(self, *extra: str) -> list[str]:
        return ["run", "--local", "--definition", str(self.definition), *extra]

    def run(self, *extra: str) -> Run:
        """`sm-pipelines run --local --definition <file> EXTRA`: the execution it started."""
        before = {e.id for e in list_executions(self.state)}
        done = self.cli(*self.run_args(*extra))
        return self._record(done, before)

    def _record(self, done: Cli, before: set[str]) -> Run:
        started = [e for e in list_executions(self.state) if e.id not in before]
        assert len(started) == 1, (done, [e.id for e in started])
        run = Run(done.code, done.out, done.err, self, started[0], list(self.runs))
        self.runs.append(run)
        return run

    def run_in_background(self, *extra: str) -> Background:
        """The same command in its own process, as in a second terminal."""
        before = {e.id for e in list_executions(self.state)}
        script = shutil.which("sm-pipelines", path=str(Path(sys.executable).parent))
        command = [script] if script else [sys.executable, "-m", "sm_pipelines"]
        process = subprocess.Popen(
            [*command, *self.isolated, *self.run_args(*extra), "--state", str(self.state.root)],
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.background.append(process)
        return Background(self, process, before)

    def close(self) -> None:
        """Stop a background run that a failed check left waiting."""
        for process in self.background:
            if process.poll() is None:
                process.kill()
                process.communicate()


@dataclass
class Background:
    """A run in its own process (`Case.run_in_background`)."""

    case: Case
    process: subprocess.Popen[str]
    before: set[str]

    def wait_for(self, found: Any, timeout: float = 60.0) -> Any:
        """Poll `found()` until it returns something truthy (the run still going)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = found()
            if value:
                return value
            if self.process.poll() is not None:
                _, err = self.process.communicate()
                code = self.process.returncode
                raise AssertionError(f"the run ended first (exit {code}): {err}")
            time.sleep(0.1)
        self.process.kill()
        raise AssertionError(f"nothing after {timeout} s")

    def finish(self, timeout: float = 60.0) -> Run:
        """Wait for the run to end (killed after `timeout`): the execution it started."""
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        return self.case._record(Cli(self.process.returncode, out, err), self.before)
