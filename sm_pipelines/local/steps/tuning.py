"""Hyperparameter tuning jobs (an SDK TuningStep), without Docker.

The request is CreateHyperParameterTuningJob's: HyperParameterTuningJobConfig (Strategy, objective,
ResourceLimits, ParameterRanges, RandomSeed, early stopping, completion criteria) and a
TrainingJobDefinition (or several, each with its own ranges and objective). Each training job the
tuning job launches is a CreateTrainingJob request run by the training step's own `run` in its
own sandbox, named as SageMaker names them (`<tuning-job>-001-<hash>`), so its model lands at
`<S3OutputPath>/<training job>/output/model.tar.gz`, where `TuningStep.get_top_model_s3_uri`
points. The step's properties are DescribeHyperParameterTuningJob's (BestTrainingJob, counters)
plus ListTrainingJobsForHyperParameterTuningJob's TrainingJobSummaries, best first.

- Grid: every combination of the categorical values, and locally also of integer ranges, in
  a fixed order (the first range varies slowest), capped by MaxNumberOfTrainingJobs.
- Random: each range sampled with its ScalingType (Linear; Logarithmic; ReverseLogarithmic;
  Auto is Linear) from RandomSeed, else a seed derived from the request, so a rerun of the same
  definition tries the same values.
- Bayesian and Hyperband are approximated by Random search, and the log says so; early stopping
  is Off (the log says so when Auto is asked for).
- Training jobs run concurrently, up to MaxParallelTrainingJobs (at most one per CPU).
- A training job that fails, or whose objective metric is not in its log, counts as Failed; the
  step fails only when none succeeded. TargetObjectiveMetricValue stops launching new jobs, and
  so does ResourceLimits.MaxRuntimeInSeconds.
- Refused (one line): Autotune and AutoParameters, continuous ranges under Grid, an objective
  metric the MetricDefinitions do not define.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from sm_pipelines.local.execution import now
from sm_pipelines.local.job import JOB_INTERNAL_ERROR, JobContext, StepFailure
from sm_pipelines.local.job import evaluated_arguments as prepare
from sm_pipelines.local.steps import training

__all__ = ["prepare", "run"]

STRATEGIES = ("Random", "Grid", "Bayesian", "Hyperband")
SCALINGS = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
RANGE_KINDS = ("Categorical", "Continuous", "Integer")
# ListTrainingJobsForHyperParameterTuningJob as a pipeline property holds the top 50.
MAX_SUMMARIES = 50
# SageMaker's limit on a tuning job's name; its training jobs add `-001-<8 hex>`.
TUNING_NAME_LENGTH = 32
# What a training job of the tuning job takes from its TrainingJobDefinition as is.
_COPIED = (
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "StoppingCondition",
    "ResourceConfig",
    "VpcConfig",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "Environment",
    "RetryStrategy",
)


def _client_error(message: str) -> StepFailure:
    return StepFailure(f"ClientError: {message}")


# -- the request ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Range:
    name: str
    kind: str
    values: tuple[str, ...] = ()
    low: float = 0.0
    high: float = 0.0
    scaling: str = "Linear"


@dataclass(frozen=True)
class _Definition:
    name: str | None
    request: dict[str, Any]
    ranges: tuple[_Range, ...]
    objective_type: str
    metric: str


@dataclass(frozen=True)
class _Plan:
    index: int
    name: str
    definition: _Definition
    tuned: dict[str, str]


def _number(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _client_error(f"{where} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise _client_error(f"{where} {value!r} is not a finite number")
    return number


def _integer(value: Any, where: str) -> int:
    number = _number(value, where)
    if not number.is_integer():
        raise _client_error(f"{where} {value!r} is not an integer")
    return int(number)


def _ranges(spec: Any) -> tuple[_Range, ...]:
    if not isinstance(spec, dict):
        return ()
    if spec.get("AutoParameters"):
        raise _client_error(
            "AutoParameters (Autotune) cannot run locally: give the tuner explicit ranges"
        )
    ranges: list[_Range] = []
    for kind in RANGE_KINDS:
        for item in spec.get(f"{kind}ParameterRanges") or []:
            name = item.get("Name")
            if not isinstance(name, str) or not name:
                raise _client_error(f"a {kind} parameter range has no Name")
            where = f"{kind} range {name}"
            if kind == "Categorical":
                values = tuple(str(v) for v in item.get("Values") or [])
                if not values:
                    raise _client_error(f"{where} has no Values")
                ranges.append(_Range(name, kind, values=values))
                continue
            parse = _integer if kind == "Integer" else _number
            low = parse(item.get("MinValue"), f"{where}: MinValue")
            high = parse(item.get("MaxValue"), f"{where}: MaxValue")
            scaling = item.get("ScalingType") or "Auto"
            if low > high:
                raise _client_error(f"{where}: MinValue {low} is above MaxValue {high}")
            if scaling not in SCALINGS:
                raise _client_error(
                    f"{where}: ScalingType {scaling!r} is not one of {', '.join(SCALINGS)}"
                )
            if scaling == "Logarithmic" and low <= 0:
                raise _client_error(f"{where}: Logarithmic scaling needs MinValue > 0")
            if scaling == "ReverseLogarithmic" and (
                kind == "Integer" or not (low >= 0 and high < 1)
            ):
                raise _client_error(
                    f"{where}: ReverseLogarithmic scaling needs a continuous range within "
                    "0 <= x < 1"
                )
            ranges.append(_Range(name, kind, low=low, high=high, scaling=scaling))
    names = [r.name for r in ranges]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _client_error(f"hyperparameter {', '.join(duplicates)} has more than one range")
    return tuple(ranges)


def _objective(spec: Any, where: str) -> tuple[str, str]:
    if not isinstance(spec, dict) or not spec.get("MetricName"):
        raise _client_error(f"{where} has no objective (HyperParameterTuningJobObjective)")
    kind = spec.get("Type")
    if kind not in ("Maximize", "Minimize"):
        raise _client_error(f"{where}: objective Type {kind!r} is not Maximize or Minimize")
    return kind, str(spec["MetricName"])


def _definitions(arguments: dict[str, Any], config: dict[str, Any]) -> list[_Definition]:
    raw = arguments.get("TrainingJobDefinitions")
    if not raw:
        single = arguments.get("TrainingJobDefinition")
        if not isinstance(single, dict):
            raise _client_error("the request has no TrainingJobDefinition")
        raw = [single]
    definitions = []
    for request in raw:
        name = request.get("DefinitionName")
        where = f"training job definition {name}" if name else "the tuning job"
        objective_type, metric = _objective(
            request.get("TuningObjective") or config.get("HyperParameterTuningJobObjective"),
            where,
        )
        ranges = _ranges(request.get("HyperParameterRanges") or config.get("ParameterRanges"))
        metrics = (request.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
        known = [m.get("Name") for m in metrics]
        if metric not in known:
            raise _client_error(
                f"{where}: the objective metric {metric!r} is not among the MetricDefinitions "
                f"({', '.join(map(str, known)) or 'none'}), so no training job could report it"
            )
        definitions.append(_Definition(name, request, ranges, objective_type, metric))
    return definitions


# -- what to try ---------------------------------------------------------------------------
def _format(kind: str, value: float) -> str:
    return str(int(value)) if kind == "Integer" else repr(float(value))


def _sample(item: _Range, rng: random.Random) -> str:
    if item.kind == "Categorical":
        return rng.choice(item.values)
    low, high = item.low, item.high
    if item.kind == "Integer":
        if item.scaling == "Logarithmic":
            value = math.floor(math.exp(rng.uniform(math.log(low), math.log(high + 1))))
        else:
            value = rng.randint(int(low), int(high))
        return _format(item.kind, min(max(value, low), high))
    if item.scaling == "Logarithmic":
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    elif item.scaling == "ReverseLogarithmic":
        value = 1 - math.exp(rng.uniform(math.log(1 - high), math.log(1 - low)))
    else:
        value = rng.uniform(low, high)
    return _format(item.kind, min(max(value, low), high))


def _grid_values(item: _Range) -> list[str]:
    if item.kind == "Categorical":
        return list(item.values)
    if item.kind == "Integer":
        return [str(v) for v in range(int(item.low), int(item.high) + 1)]
    raise _client_error(
        f"Grid search cannot enumerate the continuous range {item.name}; use categorical values"
    )


def _grid(definition: _Definition) -> tuple[int, Iterator[dict[str, str]]]:
    axes = [_grid_values(item) for item in definition.ranges]
    names = [item.name for item in definition.ranges]
    combinations = (dict(zip(names, values, strict=True)) for values in itertools.product(*axes))
    return math.prod(len(axis) for axis in axes), combinations


def _seed(config: dict[str, Any], arguments: dict[str, Any]) -> int:
    if config.get("RandomSeed") is not None:
        return _integer(config["RandomSeed"], "RandomSeed")
    text = json.dumps(
        {k: v for k, v in arguments.items() if k != "HyperParameterTuningJobName"},
        sort_keys=True,
        default=str,
    )
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _child_name(tuning: str, index: int, tuned: dict[str, str]) -> str:
    text = json.dumps([tuning, index, tuned], sort_keys=True)
    return f"{tuning}-{index:03d}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _plans(
    tuning: str,
    definitions: list[_Definition],
    strategy: str,
    limit: int | None,
    seed: int,
    notes: list[str],
) -> list[_Plan]:
    chosen: list[tuple[_Definition, dict[str, str]]] = []
    if strategy == "Grid":
        total = 0
        streams = []
        for definition in definitions:
            size, combinations = _grid(definition)
            total += size
            streams.append((definition, combinations))
        every = ((d, tuned) for d, combinations in streams for tuned in combinations)
        chosen = list(itertools.islice(every, limit))
        if any(r.kind == "Integer" for d in definitions for r in d.ranges):
            notes.append(
                "Grid over integer ranges: every integer is enumerated locally; SageMaker's Grid "
                "accepts only categorical ranges and would refuse this request"
            )
        if len(chosen) < total:
            notes.append(
                f"Grid has {total} combinations; MaxNumberOfTrainingJobs {limit} runs the first "
                f"{len(chosen)} (SageMaker expects it to equal the number of combinations)"
            )
    else:
        rng = random.Random(seed)
        for index in range(limit or 0):
            definition = definitions[index % len(definitions)]
            chosen.append((definition, {r.name: _sample(r, rng) for r in definition.ranges}))
    return [
        _Plan(index, _child_name(tuning, index, tuned), definition, tuned)
        for index, (definition, tuned) in enumerate(chosen, start=1)
    ]


# -- running the training jobs -------------------------------------------------------------
@dataclass
class _ChildContext(JobContext):
    """A training job of the tuning job: its name is the one the tuning job gave it."""

    child_name: str = ""

    @property
    def job_name(self) -> str:
        return self.child_name

    def named(self, prefix: Any) -> str:
        return self.child_name


@dataclass
class _Result:
    plan: _Plan
    start: str
    end: str = ""
    value: float | None = None
    failure: StepFailure | None = None


@dataclass
class _Log:
    path: Path
    lock: threading.Lock = field(default_factory=threading.Lock)

    def write(self, text: str) -> None:
        with self.lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as log:
                log.write(text if text.endswith("\n") else text + "\n")


def _child_context(ctx: JobContext, name: str, attempt: int) -> _ChildContext:
    folder = ctx.sandbox / "training-jobs" / name
    sandbox = folder / f"attempt-{attempt}"
    sandbox.mkdir(parents=True, exist_ok=True)
    child = _ChildContext(**{f.name: getattr(ctx, f.name) for f in fields(JobContext)})
    return replace(
        child,
        child_name=name,
        step=name,
        attempt=attempt,
        sandbox=sandbox,
        log_file=folder / f"attempt-{attempt}.log",
    )


def _child_request(plan: _Plan) -> dict[str, Any]:
    definition = plan.definition.request
    request = {key: definition[key] for key in _COPIED if key in definition}
    request["TrainingJobName"] = plan.name
    static = {str(k): v for k, v in (definition.get("StaticHyperParameters") or {}).items()}
    request["HyperParameters"] = {**static, **plan.tuned}
    if "ResourceConfig" not in request and definition.get("HyperParameterTuningResourceConfig"):
        resources = definition["HyperParameterTuningResourceConfig"]
        first = (resources.get("InstanceConfigs") or [{}])[0]
        request["ResourceConfig"] = {
            key: resources.get(key, first.get(key))
            for key in ("InstanceType", "InstanceCount", "VolumeSizeInGB")
            if resources.get(key, first.get(key)) is not None
        }
    return request


def _objective_value(properties: dict[str, Any], metric: str) -> float | None:
    for item in properties.get("FinalMetricDataList") or []:
        if item.get("MetricName") == metric:
            value = item.get("Value")
            if isinstance(value, int | float) and math.isfinite(value):
                return float(value)
    return None


def _run_child(ctx: JobContext, plan: _Plan, log: _Log, total: int) -> _Result:
    request = _child_request(plan)
    retries = (request.get("RetryStrategy") or {}).get("MaximumRetryAttempts") or 0
    retries = _integer(retries, "RetryStrategy.MaximumRetryAttempts")
    result = _Result(plan, start=now())
    attempt = 0
    while True:
        attempt += 1
        child = _child_context(ctx, plan.name, attempt)
        try:
            properties = training.run(child, request)
            failure = None
        except StepFailure as exc:
            properties, failure = None, exc
        if child.log_file.is_file():
            log.write(child.log_file.read_text(encoding="utf-8"))
        if failure is None or failure.exception_type != JOB_INTERNAL_ERROR or attempt > retries:
            break
        log.write(f"===== {plan.name}: retry {attempt} of {retries}: {failure.reason}")
    result.end = now()
    if failure is not None:
        result.failure = failure
    else:
        assert properties is not None
        result.value = _objective_value(properties, plan.definition.metric)
        if result.value is None:
            result.failure = StepFailure(
                f"AlgorithmError: the objective metric {plan.definition.metric!r} was not found "
                "in the training job's log (its MetricDefinitions regex matched no number)"
            )
    tuned = ", ".join(f"{k}={v}" for k, v in plan.tuned.items()) or "no tuned hyperparameters"
    outcome = (
        f"Failed: {_one_line(result.failure.reason)}"
        if result.failure
        else f"{plan.definition.metric}={result.value}"
    )
    log.write(f"===== training job {plan.index}/{total} {plan.name} ({tuned}): {outcome}")
    return result


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _reached(value: float | None, target: float | None, objective_type: str) -> bool:
    if value is None or target is None:
        return False
    return value >= target if objective_type == "Maximize" else value <= target


def _run_all(
    ctx: JobContext,
    plans: list[_Plan],
    parallel: int,
    log: _Log,
    target: float | None,
    deadline: float | None,
) -> list[_Result]:
    results: list[_Result] = []
    pending = list(reversed(plans))
    stop = ""
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="tuning") as pool:
        running: dict[Future[_Result], _Plan] = {}
        while pending or running:
            if not stop and deadline is not None and time.monotonic() >= deadline:
                stop = "ResourceLimits.MaxRuntimeInSeconds has passed"
            while pending and not stop and len(running) < parallel:
                plan = pending.pop()
                running[pool.submit(_run_child, ctx, plan, log, len(plans))] = plan
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                plan = running.pop(future)
                result = future.result()
                results.append(result)
                if not stop and _reached(result.value, target, plan.definition.objective_type):
                    stop = f"{plan.name} reached TargetObjectiveMetricValue {target}"
    if stop and len(results) < len(plans):
        log.write(f"===== tuning: {stop}; {len(plans) - len(results)} training jobs not started")
    return sorted(results, key=lambda r: r.plan.index)


# -- the step --------------------------------------------------------------------------------
def _tuning_name(ctx: JobContext, prefix: Any) -> str:
    """Within SageMaker's 32 characters, distinct per execution, step and attempt."""
    base = prefix if isinstance(prefix, str) and prefix else ctx.step
    safe = "".join(c if c.isalnum() else "-" for c in base).strip("-") or "tuning"
    digest = hashlib.sha256(f"{ctx.execution_id}/{ctx.step}/{ctx.attempt}".encode()).hexdigest()
    return f"{safe[: TUNING_NAME_LENGTH - 13].rstrip('-')}-{digest[:12]}"


def _summary(ctx: JobContext, tuning: str, result: _Result) -> dict[str, Any]:
    plan = result.plan
    summary: dict[str, Any] = {
        "TrainingJobName": plan.name,
        "TrainingJobArn": ctx.arn("training-job", plan.name),
        "TuningJobName": tuning,
        "CreationTime": result.start,
        "TrainingStartTime": result.start,
        "TrainingEndTime": result.end,
        "TrainingJobStatus": "Failed" if result.failure else "Completed",
        "TunedHyperParameters": dict(plan.tuned),
        "ObjectiveStatus": "Failed" if result.failure else "Succeeded",
    }
    if plan.definition.name:
        summary["TrainingJobDefinitionName"] = plan.definition.name
    if result.failure:
        summary["FailureReason"] = _one_line(result.failure.reason)
    else:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": plan.definition.objective_type,
            "MetricName": plan.definition.metric,
            "Value": result.value,
        }
    return summary


def _best_first(results: list[_Result]) -> list[_Result]:
    def key(result: _Result) -> tuple[int, float, int]:
        if result.failure or result.value is None:
            return (1, 0.0, result.plan.index)
        sign = -1 if result.plan.definition.objective_type == "Maximize" else 1
        return (0, sign * result.value, result.plan.index)

    return sorted(results, key=key)


def _notes(config: dict[str, Any], definitions: list[_Definition], seed: int) -> list[str]:
    strategy = config.get("Strategy")
    notes = []
    if strategy in ("Bayesian", "Hyperband"):
        extra = " (StrategyConfig and its brackets are ignored)" if strategy == "Hyperband" else ""
        notes.append(f"{strategy} search is approximated by Random search (seed {seed}){extra}")
    elif strategy == "Random":
        notes.append(f"Random search, seed {seed}")
    if config.get("TrainingJobEarlyStoppingType") == "Auto":
        notes.append("TrainingJobEarlyStoppingType Auto: early stopping is Off locally")
    if strategy != "Grid" and any(
        r.scaling == "Auto" for d in definitions for r in d.ranges if r.kind != "Categorical"
    ):
        notes.append("ScalingType Auto samples linearly")
    criteria = config.get("TuningJobCompletionCriteria") or {}
    ignored = sorted(k for k in criteria if k != "TargetObjectiveMetricValue")
    if ignored:
        notes.append(f"TuningJobCompletionCriteria {', '.join(ignored)} ignored locally")
    return notes


def run(ctx: JobContext, arguments: dict[str, Any]) -> dict[str, Any]:
    config = arguments.get("HyperParameterTuningJobConfig")
    if not isinstance(config, dict):
        raise _client_error("the request has no HyperParameterTuningJobConfig")
    if (arguments.get("Autotune") or {}).get("Mode") == "Enabled":
        raise _client_error(
            "Autotune cannot run locally: give the tuner a strategy and explicit ranges"
        )
    strategy = config.get("Strategy")
    if strategy not in STRATEGIES:
        raise _client_error(f"Strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    definitions = _definitions(arguments, config)
    limits = config.get("ResourceLimits") or {}
    limit = limits.get("MaxNumberOfTrainingJobs")
    if limit is not None:
        limit = _integer(limit, "ResourceLimits.MaxNumberOfTrainingJobs")
    if limit is None and strategy != "Grid":
        raise _client_error(f"{strategy} search needs ResourceLimits.MaxNumberOfTrainingJobs")
    if limit is not None and limit < 1:
        raise _client_error(f"ResourceLimits.MaxNumberOfTrainingJobs {limit} is below 1")
    most = limits.get("MaxParallelTrainingJobs")
    most = 1 if most is None else _integer(most, "ResourceLimits.MaxParallelTrainingJobs")
    if most < 1:
        raise _client_error(f"ResourceLimits.MaxParallelTrainingJobs {most} is below 1")
    criteria = config.get("TuningJobCompletionCriteria") or {}
    target = criteria.get("TargetObjectiveMetricValue")
    target = None if target is None else _number(target, "TargetObjectiveMetricValue")
    runtime = limits.get("MaxRuntimeInSeconds")
    deadline = None
    if runtime is not None:
        deadline = time.monotonic() + _number(runtime, "ResourceLimits.MaxRuntimeInSeconds")

    name = _tuning_name(ctx, arguments.get("HyperParameterTuningJobName"))
    seed = _seed(config, arguments)
    notes = _notes(config, definitions, seed)
    if arguments.get("WarmStartConfig"):
        notes.append("WarmStartConfig ignored: local search does not learn from parent jobs")
    plans = _plans(name, definitions, strategy, limit, seed, notes)
    if not plans:
        raise _client_error("the tuning job has no training job to run")
    parallel = max(1, min(most, len(plans), os.cpu_count() or 1))
    log = _Log(ctx.log_file)
    log.write(
        f"===== tuning job {name}: {strategy}, {len(plans)} training jobs, up to {parallel} at "
        f"a time (MaxParallelTrainingJobs {most})"
    )
    for note in notes:
        log.write(f"===== tuning: {note}")

    created = now()
    results = _run_all(ctx, plans, parallel, log, target, deadline)
    ranked = _best_first(results)
    succeeded = [r for r in ranked if not r.failure]
    failed = [r for r in results if r.failure]
    if not succeeded:
        first = failed[0]
        internal = all(r.failure and r.failure.exception_type == JOB_INTERNAL_ERROR for r in failed)
        count = f"all {len(failed)} training jobs" if len(failed) > 1 else "its training job"
        raise StepFailure(
            f"Tuning job {name} failed: {count} failed; "
            f"{first.plan.name}: {_one_line(first.failure.reason if first.failure else '')}",
            JOB_INTERNAL_ERROR if internal else None,
        )
    summaries = [_summary(ctx, name, r) for r in ranked]
    best = summaries[0]
    metric = best["FinalHyperParameterTuningJobObjectiveMetric"]
    log.write(
        f"===== tuning job {name}: best {best['TrainingJobName']} "
        f"({metric['Type']} {metric['MetricName']}={metric['Value']}); "
        f"{len(succeeded)} succeeded, {len(failed)} failed"
    )
    return {
        **arguments,
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobArn": ctx.arn("hyper-parameter-tuning-job", name),
        "HyperParameterTuningJobStatus": "Completed",
        "CreationTime": created,
        "HyperParameterTuningEndTime": now(),
        "TrainingJobStatusCounters": {
            "Completed": len(succeeded),
            "InProgress": 0,
            "RetryableError": 0,
            "NonRetryableError": len(failed),
            "Stopped": 0,
        },
        "ObjectiveStatusCounters": {
            "Succeeded": len(succeeded),
            "Pending": 0,
            "Failed": len(failed),
        },
        "BestTrainingJob": best,
        "TrainingJobSummaries": summaries[:MAX_SUMMARIES],
    }
