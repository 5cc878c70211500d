"""Run a pipeline definition: the DAG, conditions, retries, caching and execution records."""

from __future__ import annotations

import importlib
import shutil
import sys
import time
from collections.abc import Callable, Collection
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from components.common.contract import STATE_VARIABLE
from sm_pipelines.config.step_kinds import BY_TYPE
from sm_pipelines.errors import UserError
from sm_pipelines.events.shapes import execution_event, model_package_event, step_event
from sm_pipelines.local import cache
from sm_pipelines.local.execution import (
    EXECUTING,
    FAILED,
    NOT_EXECUTED,
    PENDING,
    SUCCEEDED,
    TERMINAL,
    Execution,
    StepRecord,
    new_execution_id,
    now,
)
from sm_pipelines.local.expressions import ExpressionError, Scope
from sm_pipelines.local.images import ImageMap
from sm_pipelines.local.job import JobContext, StepFailure
from sm_pipelines.local.plan import PipelineDefinition, StepNode
from sm_pipelines.local.s3_endpoint import s3_endpoint
from sm_pipelines.local.state import LocalState

Listener = Callable[[str, Execution, StepRecord | None], None]


@dataclass
class RunSettings:
    """How this machine stands in for AWS while running."""

    cwd: Path = field(default_factory=Path.cwd)
    region: str = "us-east-1"
    account: str = "000000000000"
    images: ImageMap = field(default_factory=ImageMap)
    lambdas: dict[str, str] = field(default_factory=dict)
    max_parallel: int = 2
    sleep: Callable[[float], None] = time.sleep
    keep_sandboxes: bool = False
    # Added to every job's environment (local services such as MONGODB_URI, the state folder).
    environment: dict[str, str] = field(default_factory=dict)
    # Local stores the environment declares for its pipelines (`local.services`).
    services: tuple[str, ...] = ()
    # The `unshare` prefix that mounts each job's sandbox at /opt/ml (local/sandbox.py); None
    # rewrites container paths instead.
    namespace: tuple[str, ...] | None = None
    # Called with every EventBridge-shaped event (local alert routing); never fail the run.
    event_sinks: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)


class Runner:
    def __init__(
        self,
        state: LocalState,
        definition: PipelineDefinition,
        pipeline: str,
        settings: RunSettings,
        listener: Listener | None = None,
    ) -> None:
        self.state = state
        self.definition = definition
        self.pipeline = pipeline
        self.settings = settings
        self.listener = listener
        self._s3_url: str | None = None

    # -- public ---------------------------------------------------------------------------
    def start(
        self,
        parameters: dict[str, Any],
        source: str = "",
        reference: Execution | None = None,
        selected: Collection[str] = (),
        description: str = "",
    ) -> Execution:
        """Run the pipeline. With a `reference` execution, only the `selected` steps run and
        every other step's outputs are the reference's (SageMaker's selective execution)."""
        steps = {
            name: StepRecord(
                name=name, type=node.type, display_name=node.raw.get("DisplayName", "")
            )
            for name, node in self.definition.steps.items()
        }
        if reference is not None:
            steps.update(self._from_reference(reference, set(selected)))
        execution = Execution(
            id=new_execution_id(),
            pipeline=self.pipeline,
            region=self.settings.region,
            account=self.settings.account,
            definition=self.definition.text,
            parameters=parameters,
            steps=steps,
            source=source,
            description=description,
            services=list(self.settings.services),
        )
        return self._run(execution, previous=None)

    def _from_reference(self, reference: Execution, selected: set[str]) -> dict[str, StepRecord]:
        unknown = sorted(selected - set(self.definition.steps))
        if unknown:
            raise UserError(
                f"--steps: no step {', '.join(unknown)} in the pipeline "
                f"(steps: {', '.join(self.definition.steps)})"
            )
        kept: dict[str, StepRecord] = {}
        for name in self.definition.steps:
            if name in selected:
                continue
            earlier = reference.steps.get(name)
            needed = any(name in self.definition.steps[s].depends_on for s in selected)
            if earlier is None or earlier.status not in (SUCCEEDED, NOT_EXECUTED):
                if needed:
                    status = earlier.status if earlier else "absent"
                    raise UserError(
                        f"--steps: {name} is needed by the selected steps but was {status} in "
                        f"execution {reference.id}; select it too"
                    )
                kept[name] = StepRecord(name=name, type=self.definition.steps[name].type)
                kept[name].status = NOT_EXECUTED
                continue
            kept[name] = replace(earlier, cache_source=earlier.cache_source or reference.id)
        return kept

    def retry(self, execution: Execution) -> Execution:
        """Re-run what failed or did not run; succeeded steps keep their results (as AWS does)."""
        for record in execution.steps.values():
            if record.status != SUCCEEDED:
                execution.steps[record.name] = StepRecord(
                    name=record.name, type=record.type, display_name=record.display_name
                )
        previous = execution.status
        execution.status, execution.end, execution.failure_reason = EXECUTING, None, None
        return self._run(execution, previous=previous)

    # -- scheduling -------------------------------------------------------------------------
    def _emit(self, kind: str, execution: Execution, step: StepRecord | None, previous: str | None):
        execution.save(self.state)
        region, account = self.settings.region, self.settings.account
        if step is None:
            event = execution_event(execution, previous, region, account)
        else:
            event = step_event(execution, step, previous, region, account)
        events = [event] if step is None or step.status != NOT_EXECUTED else []
        if step is not None and step.type == "RegisterModel" and step.status == SUCCEEDED:
            events.append(model_package_event(step.properties, region, account))
        for item in events:
            self.state.append_event(item)
            for sink in self.settings.event_sinks:
                try:
                    sink(item)
                except Exception as exc:  # an alert sink must never stop a run
                    print(
                        f"WARNING event sink failed: {type(exc).__name__}: {exc}", file=sys.stderr
                    )
        if self.listener:
            self.listener(kind, execution, step)

    def _scope(self, execution: Execution) -> Scope:
        variables = {
            "PipelineExecutionId": execution.id,
            "PipelineExecutionArn": execution.arn,
            "PipelineName": execution.pipeline,
            "PipelineArn": execution.pipeline_arn,
            "StartDateTime": execution.start,
            "CurrentDateTime": now(),
        }
        properties = {
            name: record.properties
            for name, record in execution.steps.items()
            if record.status == SUCCEEDED
        }
        return Scope(
            execution.parameters,
            variables,
            properties,
            self._property_file_path,
            s3_path=self.state.s3_path,
        )

    def _property_file_path(self, step: str, name: str, properties: dict[str, Any]) -> Path:
        node = self.definition.steps.get(step)
        spec = (
            next(
                (
                    p
                    for p in (node.raw.get("PropertyFiles") or [])
                    if p.get("PropertyFileName") == name
                ),
                None,
            )
            if node
            else None
        )
        if spec is None:
            raise ExpressionError(f"step {step!r} declares no property file {name!r}")
        outputs = properties.get("ProcessingOutputConfig", {})
        output = next(
            (o for o in outputs.get("Outputs", []) if o.get("OutputName") == spec["OutputName"]),
            None,
        )
        if output is None:
            raise ExpressionError(
                f"property file {name!r} of step {step!r}: output {spec['OutputName']!r} missing"
            )
        return self.state.s3_path(output["S3Output"]["S3Uri"].rstrip("/") + "/" + spec["FilePath"])

    def _blocked(self, execution: Execution, node: StepNode, scope: Scope) -> bool:
        """True when the step can never run: a dependency failed or was skipped, or its branch
        was not chosen."""
        if any(execution.steps[dep].status in (FAILED, NOT_EXECUTED) for dep in node.depends_on):
            return True
        if node.gate is not None:
            condition, branch = node.gate
            return scope.properties.get(condition, {}).get("Outcome") is not branch
        return False

    def _run(self, execution: Execution, previous: str | None) -> Execution:
        self._emit("execution", execution, None, previous)
        order = list(self.definition.steps)
        running: dict[Future[StepRecord], str] = {}
        failed = False
        # One loopback S3 endpoint over the state for the whole run: every job's S3.
        with (
            s3_endpoint(self.state.s3_root, self.settings.region) as self._s3_url,
            ThreadPoolExecutor(max_workers=max(1, self.settings.max_parallel)) as pool,
        ):
            while True:
                scope = self._scope(execution)
                changed = False
                for name in order:
                    record = execution.steps[name]
                    if record.status != PENDING:
                        continue
                    node = self.definition.steps[name]
                    if any(execution.steps[d].status not in TERMINAL for d in node.depends_on):
                        continue
                    if failed or self._blocked(execution, node, scope):
                        record.status = NOT_EXECUTED
                        self._emit("step", execution, record, PENDING)
                        changed = True
                        continue
                    if len(running) >= max(1, self.settings.max_parallel):
                        continue
                    record.status, record.start = EXECUTING, now()
                    self._emit("step", execution, record, PENDING)
                    work = replace(record)
                    running[pool.submit(self._execute, execution, node, work, scope)] = name
                    changed = True
                if not running:
                    if changed:
                        continue
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    # Only this thread changes records, so a scan never sees a half-done step.
                    record = execution.steps[running.pop(future)]
                    result = future.result()
                    record.status, record.properties = result.status, result.properties
                    record.failure_reason, record.attempts = result.failure_reason, result.attempts
                    record.cache_source = result.cache_source
                    record.end = now()
                    failed = failed or record.status == FAILED
                    self._emit("step", execution, record, EXECUTING)
        failures = [r for r in execution.steps.values() if r.status == FAILED]
        previous = execution.status
        execution.status = FAILED if failures else SUCCEEDED
        execution.failure_reason = (
            f"Step {failures[0].name} failed: {failures[0].failure_reason}" if failures else None
        )
        if failures and failures[0].type == "Fail":
            execution.failure_reason = failures[0].failure_reason
        execution.end = now()
        self._emit("execution", execution, None, previous)
        return execution

    # -- one step ---------------------------------------------------------------------------
    def _execute(
        self, execution: Execution, node: StepNode, record: StepRecord, scope: Scope
    ) -> StepRecord:
        """Run one step on a private copy of its record; never raises (failures are recorded)."""
        try:
            record.properties = self._attempts(execution, node, record, scope)
            record.status = SUCCEEDED
        except StepFailure as failure:
            record.status, record.failure_reason = FAILED, failure.reason
        except ExpressionError as exc:
            record.status, record.failure_reason = FAILED, f"ClientError: {exc}"
        except Exception as exc:  # an executor bug must fail the step, not hang the run
            record.status = FAILED
            record.failure_reason = f"InternalError: {type(exc).__name__}: {exc}"
        return record

    def _attempts(
        self, execution: Execution, node: StepNode, record: StepRecord, scope: Scope
    ) -> dict[str, Any]:
        raw = node.raw
        kind = BY_TYPE.get(node.type)
        if kind is None:
            # Refused when it would run, so a branch that is not taken may hold it.
            raise StepFailure(
                f"ClientError: step {node.name} is a {node.type} step, which cannot run locally "
                f"(supported: {', '.join(BY_TYPE)})"
            )
        step = importlib.import_module(kind.local_module)
        evaluated = step.prepare(raw, scope)
        cache_config = raw.get("CacheConfig") or {}
        key = None
        if cache_config.get("Enabled") and kind.cacheable:
            key = cache.cache_key(self.state, raw, evaluated)
            hit = cache.lookup(
                self.state, self.pipeline, node.name, key, cache_config.get("ExpireAfter", "P30D")
            )
            if hit is not None:
                record.cache_source = hit["execution_id"]
                return hit["properties"]

        policies = raw.get("RetryPolicies") or []
        retries: dict[int, int] = {}
        started = time.monotonic()
        while True:
            record.attempts += 1
            ctx = self._context(execution, node, record.attempts, kind.starts_job)
            try:
                properties = step.run(ctx, evaluated)
                if not self.settings.keep_sandboxes:
                    shutil.rmtree(ctx.sandbox, ignore_errors=True)
                break
            except StepFailure as failure:
                index, policy = _matching_policy(policies, failure.exception_type)
                if policy is None:
                    raise
                delay = policy.get("IntervalSeconds", 1) * policy.get("BackoffRate", 2.0) ** (
                    retries.get(index, 0)
                )
                if not _may_retry(policy, retries.get(index, 0), time.monotonic() - started, delay):
                    raise
                retries[index] = retries.get(index, 0) + 1
                with ctx.log_file.open("a", encoding="utf-8") as log:
                    log.write(f"===== retry in {delay:.1f} s: {failure.reason}\n")
                self.settings.sleep(delay)
        if key is not None:
            cache.store(self.state, self.pipeline, node.name, key, execution.id, properties)
        return properties

    def _context(
        self, execution: Execution, node: StepNode, attempt: int, starts_job: bool
    ) -> JobContext:
        base = self.state.execution_dir(execution.id)
        sandbox = base / "sandbox" / node.name / f"attempt-{attempt}"
        shutil.rmtree(sandbox, ignore_errors=True)
        if starts_job:
            sandbox.mkdir(parents=True)
        return JobContext(
            state=self.state,
            pipeline=self.pipeline,
            execution_id=execution.id,
            step=node.name,
            attempt=attempt,
            sandbox=sandbox,
            log_file=base / "logs" / f"{node.name}.log",
            cwd=self.settings.cwd,
            region=self.settings.region,
            account=self.settings.account,
            images=self.settings.images,
            lambdas=self.settings.lambdas,
            environment={STATE_VARIABLE: str(self.state.root), **self.settings.environment},
            namespace=self.settings.namespace,
            s3_url=self._s3_url,
        )


def _may_retry(policy: dict[str, Any], retried: int, elapsed: float, delay: float) -> bool:
    """A policy bounds retries by MaxAttempts, or by ExpireAfterMin: no retry would start later
    than that many minutes after the step's first attempt."""
    if "MaxAttempts" in policy:
        return retried < policy["MaxAttempts"]
    if "ExpireAfterMin" in policy:
        return elapsed + delay <= policy["ExpireAfterMin"] * 60
    return False


def _matching_policy(
    policies: list[dict[str, Any]], exception_type: str | None
) -> tuple[int, dict[str, Any] | None]:
    if exception_type is None:
        return -1, None
    for index, policy in enumerate(policies):
        kinds = policy.get("ExceptionType", [])
        if exception_type in (kinds if isinstance(kinds, list) else [kinds]):
            return index, policy
    return -1, None
