"""Checks that span more than one field: inside a pipeline (names, outputs, branches, cycles,
the job contract of each component) and across files (images, instance types and secrets every
environment must have, parameter defaults, alert routes, names that must fit AWS limits in every
environment). Each mistake is one DefinitionError located in the YAML."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from components.common.contract import JOB_INPUTS, JOB_OPTIONAL_INPUTS, JOB_OUTPUTS
from sm_pipelines import limits
from sm_pipelines.config.alerts import AlertsConfig
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.naming import Names, arn_partition, partition_for
from sm_pipelines.config.pipeline import (
    ConditionStepSpec,
    PipelineConfig,
    ProcessingStepSpec,
    type_problem,
)
from sm_pipelines.config.step_kinds import BY_YAML_KIND
from sm_pipelines.config.values import ParamRef, PropertyFileRef, StepOutputRef, iter_refs
from sm_pipelines.errors import DefinitionError
from sm_pipelines.files import FieldPath, YamlDocument


def step_outputs(step: Any) -> tuple[str, ...]:
    """Names a `{step, output}` reference may use for this step."""
    return BY_YAML_KIND[step.kind].output_names(step)


def iter_values(node: Any, path: FieldPath = ()) -> Iterator[tuple[FieldPath, Any]]:
    """Yield (path, reference) for every reference inside a model, using YAML key names."""
    if isinstance(node, BaseModel):
        for name, info in type(node).model_fields.items():
            yield from iter_values(getattr(node, name), (*path, info.alias or name))
    elif isinstance(node, list | tuple):
        for index, item in enumerate(node):
            yield from iter_values(item, (*path, index))
    elif isinstance(node, dict):
        for key, item in node.items():
            yield from iter_values(item, (*path, key))
    else:
        for ref in iter_refs(node) if node is not None else ():
            yield path, ref


def step_dependencies(step: Any) -> set[str]:
    """Steps this step reads from or explicitly depends on."""
    deps = set(step.depends_on)
    for _, ref in iter_values(step):
        if isinstance(ref, StepOutputRef | PropertyFileRef):
            deps.add(ref.step)
    return deps


def _check_job_contract(step: Any, doc: YamlDocument, where: FieldPath) -> list[DefinitionError]:
    """The inputs and outputs a step declares must be the ones its component reads and writes
    (components.common.contract), or the job fails at run time on a path that is not there."""
    errors = []
    for section, table in (("inputs", JOB_INPUTS), ("outputs", JOB_OUTPUTS)):
        expected = table.get(step.component)
        declared = getattr(step, section, None)
        if expected is None or declared is None:
            continue
        optional = (
            set(JOB_OPTIONAL_INPUTS.get(step.component, ())) if section == "inputs" else set()
        )
        if set(expected) <= set(declared) <= set(expected) | optional:
            continue
        errors.append(
            doc.error(
                (*where, section),
                f"component {step.component!r} {'reads' if section == 'inputs' else 'writes'} "
                f"{', '.join(expected) or 'none'}"
                f"{' (and optionally ' + ', '.join(sorted(optional)) + ')' if optional else ''}"
                f" but the step declares "
                f"{', '.join(declared) or 'none'} (components/common/contract.py)",
            )
        )
    return errors


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def check_pipeline_references(
    pipeline: PipelineConfig, doc: YamlDocument, project_root: Path
) -> list[DefinitionError]:
    errors: list[DefinitionError] = []
    steps: dict[str, Any] = {}
    index_of: dict[str, int] = {}
    for index, step in enumerate(pipeline.steps):
        if step.name in steps:
            errors.append(
                doc.error(
                    ("steps", index, "name"),
                    f"step name {step.name!r} is already used by steps[{index_of[step.name]}]",
                )
            )
        steps.setdefault(step.name, step)
        index_of.setdefault(step.name, index)
    known = ", ".join(steps)

    for index, step in enumerate(pipeline.steps):
        where: FieldPath = ("steps", index)
        for i, dep in enumerate(step.depends_on):
            if dep not in steps or dep == step.name:
                errors.append(
                    doc.error(
                        (*where, "depends_on", i), f"no other step named {dep!r} (steps: {known})"
                    )
                )
        for path, ref in iter_values(step, where):
            if isinstance(ref, ParamRef) and ref.param not in pipeline.parameters:
                have = ", ".join(pipeline.parameters) or "none"
                errors.append(doc.error(path, f"no parameter named {ref.param!r} (have: {have})"))
            if not isinstance(ref, StepOutputRef | PropertyFileRef):
                continue
            target = steps.get(ref.step)
            if target is None or ref.step == step.name:
                errors.append(doc.error(path, f"no other step named {ref.step!r} (steps: {known})"))
            elif isinstance(ref, StepOutputRef) and ref.output not in step_outputs(target):
                outputs = ", ".join(step_outputs(target)) or "none"
                errors.append(
                    doc.error(
                        path, f"step {ref.step!r} has no output {ref.output!r} (has: {outputs})"
                    )
                )
            elif isinstance(ref, PropertyFileRef) and (
                not isinstance(target, ProcessingStepSpec)
                or ref.property_file not in target.property_files
            ):
                files = ", ".join(getattr(target, "property_files", {})) or "none"
                errors.append(
                    doc.error(
                        path,
                        f"step {ref.step!r} has no property file {ref.property_file!r} "
                        f"(has: {files})",
                    )
                )
        for name, spec in getattr(step, "property_files", {}).items():
            if spec.output not in step.outputs:
                errors.append(
                    doc.error(
                        (*where, "property_files", name, "output"),
                        f"property file {name!r} reads output {spec.output!r}, which is not in "
                        f"outputs ({', '.join(step.outputs) or 'none'})",
                    )
                )
        component = getattr(step, "component", None)
        if component and not (project_root / "components" / component / "__main__.py").is_file():
            errors.append(
                doc.error(
                    (*where, "component"),
                    f"components/{component}/__main__.py does not exist",
                )
            )
        elif component:
            errors.extend(_check_job_contract(step, doc, where))

    branch_owner: dict[str, str] = {}
    graph = {name: step_dependencies(step) & set(steps) for name, step in steps.items()}
    for index, step in enumerate(pipeline.steps):
        if not isinstance(step, ConditionStepSpec):
            continue
        for branch in ("if_steps", "else_steps"):
            for i, name in enumerate(getattr(step, branch)):
                path = ("steps", index, branch, i)
                if name not in steps or name == step.name:
                    errors.append(doc.error(path, f"no other step named {name!r} (steps: {known})"))
                elif name in branch_owner:
                    errors.append(
                        doc.error(path, f"step {name!r} is already in {branch_owner[name]}")
                    )
                else:
                    branch_owner[name] = f"{step.name}.{branch}"
                    graph[name].add(step.name)
    cycle = _find_cycle(graph)
    if cycle:
        errors.append(doc.error(("steps",), "steps form a cycle: " + " -> ".join(cycle)))

    for index, trigger in enumerate(pipeline.triggers):
        if [t.name for t in pipeline.triggers].count(trigger.name) > 1:
            errors.append(
                doc.error(
                    ("triggers", index, "name"), f"trigger name {trigger.name!r} is used twice"
                )
            )
        for name, value in trigger.parameters.items():
            path = ("triggers", index, "parameters", name)
            spec = pipeline.parameters.get(name)
            if spec is None:
                have = ", ".join(pipeline.parameters) or "none"
                errors.append(doc.error(path, f"no parameter named {name!r} (have: {have})"))
            elif problem := type_problem(spec.type, value):
                errors.append(doc.error(path, problem))
        for name in getattr(trigger, "event_parameters", {}):
            path = ("triggers", index, "event_parameters", name)
            spec = pipeline.parameters.get(name)
            if spec is None:
                have = ", ".join(pipeline.parameters) or "none"
                errors.append(doc.error(path, f"no parameter named {name!r} (have: {have})"))
            elif spec.type != "string":
                errors.append(doc.error(path, f"{name} is {spec.type}: an event field is a string"))
            elif name in trigger.parameters:
                errors.append(doc.error(path, f"{name} is also a static parameter of this trigger"))
    return errors


def _missing_in(
    doc: YamlDocument, path: FieldPath, what: str, section: str, missing: dict[str, list[str]]
) -> DefinitionError:
    """One error for a key that some environments lack; `missing` maps file -> keys it has."""
    if len(missing) == 1:
        ((env_file, have),) = missing.items()
        return doc.error(
            path,
            f"{what} is not defined in {env_file} {section} (have: {', '.join(have) or 'none'})",
        )
    return doc.error(path, f"{what} is not defined in {section} of {', '.join(sorted(missing))}")


def check_steps_against_environments(
    pipelines: dict[str, tuple[PipelineConfig, YamlDocument]],
    environments: dict[str, tuple[EnvironmentConfig, YamlDocument]],
) -> list[DefinitionError]:
    """Images, instance types and secrets a step names must exist in every environment."""
    errors: list[DefinitionError] = []
    envs = [(env, doc.path.name) for env, doc in environments.values()]
    for pipeline, doc in pipelines.values():
        for index, step in enumerate(pipeline.steps):
            where: FieldPath = ("steps", index)
            image = getattr(step, "image", None)
            if image is not None:
                missing = {f: sorted(e.images) for e, f in envs if image not in e.images}
                if missing:
                    what = f"image {image!r}"
                    errors.append(_missing_in(doc, (*where, "image"), what, "images", missing))
            instance_keys: list[tuple[FieldPath, str | None]] = [
                (("instance_type",), getattr(step, "instance_type", None))
            ]
            for i, key in enumerate(getattr(step, "inference_instance_types", [])):
                instance_keys.append((("inference_instance_types", i), key))
            for field_path, key in instance_keys:
                if key is None or key.startswith("ml."):
                    continue
                missing = {
                    f: sorted(e.instance_types) for e, f in envs if key not in e.instance_types
                }
                if missing:
                    what = f"instance type {key!r} is not an ml.* type and"
                    errors.append(
                        _missing_in(doc, (*where, *field_path), what, "instance_types", missing)
                    )
            for i, secret in enumerate(getattr(step, "secrets", [])):
                missing = {
                    f: sorted(e.secrets)
                    for e, f in envs
                    if e.kind == "aws" and secret not in e.secrets
                }
                for env_file in sorted(missing):
                    errors.append(
                        doc.error(
                            (*where, "secrets", i),
                            f"secret {secret!r} has no reference in {env_file} secrets",
                        )
                    )
    return errors


def check_partition(env: EnvironmentConfig, env_doc: YamlDocument) -> list[DefinitionError]:
    """Roles must live in the region's partition: a role in `aws` cannot serve cn-north-1."""
    partition = partition_for(env.region).name
    errors = []
    for field_name in ("role_arn", "lambda_role_arn"):
        value = getattr(env, field_name)
        if value and arn_partition(value) != partition:
            errors.append(
                env_doc.error(
                    (field_name,),
                    f"{value!r} is in partition {arn_partition(value)!r} but region "
                    f"{env.region} is in {partition!r} (arn:{partition}:iam::...)",
                )
            )
    return errors


def check_parameter_defaults(
    env: EnvironmentConfig,
    env_doc: YamlDocument,
    pipelines: dict[str, tuple[PipelineConfig, YamlDocument]],
    broken: set[str],
) -> list[DefinitionError]:
    errors: list[DefinitionError] = []
    for pipeline_name, overrides in env.parameter_defaults.items():
        if pipeline_name in broken:
            continue  # its own file already reported why it did not load
        if pipeline_name not in pipelines:
            errors.append(
                env_doc.error(
                    ("parameter_defaults", pipeline_name),
                    f"no pipeline named {pipeline_name!r} (have: {', '.join(sorted(pipelines))})",
                )
            )
            continue
        pipeline = pipelines[pipeline_name][0]
        for param, value in overrides.items():
            path = ("parameter_defaults", pipeline_name, param)
            spec = pipeline.parameters.get(param)
            if spec is None:
                have = ", ".join(sorted(pipeline.parameters)) or "none"
                errors.append(
                    env_doc.error(
                        path, f"{pipeline_name} has no parameter {param!r} (have: {have})"
                    )
                )
            elif problem := type_problem(spec.type, value):
                errors.append(env_doc.error(path, problem))
            elif spec.enum and value not in spec.enum:
                errors.append(env_doc.error(path, f"{value!r} is not one of {spec.enum}"))
    return errors


def check_alerts(
    alerts: AlertsConfig,
    doc: YamlDocument,
    pipelines: dict[str, tuple[PipelineConfig, YamlDocument]],
    broken: set[str],
) -> list[DefinitionError]:
    errors = []
    for index, route in enumerate(alerts.routes):
        if route.topic not in alerts.topics:
            have = ", ".join(alerts.topics) or "none"
            errors.append(
                doc.error(("routes", index, "topic"), f"no topic {route.topic!r} (have: {have})")
            )
        for i, name in enumerate(route.pipelines or []):
            if name not in pipelines and name not in broken:
                errors.append(
                    doc.error(("routes", index, "pipelines", i), f"no pipeline named {name!r}")
                )
        if [r.name for r in alerts.routes].count(route.name) > 1:
            errors.append(
                doc.error(("routes", index, "name"), f"route {route.name!r} is used twice")
            )
    return errors


def check_names_per_environment(
    alerts: AlertsConfig,
    alerts_doc: YamlDocument | None,
    pipelines: dict[str, tuple[PipelineConfig, YamlDocument]],
    environments: dict[str, tuple[EnvironmentConfig, YamlDocument]],
) -> list[DefinitionError]:
    """Names built from several files (rule, topic) must fit AWS limits in every environment."""
    errors = []
    for env, env_doc in environments.values():
        names = Names(env)
        rules = [
            (doc, ("triggers", index, "name"), names.trigger_rule(pipeline.name, trigger.name))
            for pipeline, doc in pipelines.values()
            for index, trigger in enumerate(pipeline.triggers)
        ]
        if alerts_doc is not None:
            rules += [
                (alerts_doc, ("routes", index, "name"), names.alert_rule(route.name))
                for index, route in enumerate(alerts.routes)
            ]
        for doc, path, name in rules:
            if len(name) > limits.EVENTBRIDGE_RULE_NAME_MAX:
                errors.append(
                    doc.error(
                        path,
                        f"rule name {name!r} for {env_doc.path.name} is {len(name)} characters; "
                        f"EventBridge allows {limits.EVENTBRIDGE_RULE_NAME_MAX}",
                    )
                )
        if alerts_doc is None:
            continue
        for topic in alerts.topics:
            name = names.topic(topic)
            if len(name) > limits.SNS_TOPIC_NAME_MAX:
                errors.append(
                    alerts_doc.error(
                        ("topics", topic),
                        f"topic name {name[:40]}... for {env_doc.path.name} is {len(name)} "
                        f"characters; SNS allows {limits.SNS_TOPIC_NAME_MAX}",
                    )
                )
        for topic in env.alerts.subscriptions:
            if topic not in alerts.topics:
                have = ", ".join(alerts.topics) or "none"
                errors.append(
                    env_doc.error(
                        ("alerts", "subscriptions", topic),
                        f"no topic {topic!r} in alerts.yaml (have: {have})",
                    )
                )
    return errors


GPU_INSTANCE = re.compile(r"^ml\.[gp]\d")


def is_gpu_instance(instance_type: str) -> bool:
    """ml.g* and ml.p* carry NVIDIA GPUs (ml.inf/ml.trn carry Neuron chips, not CUDA)."""
    return bool(GPU_INSTANCE.match(instance_type))


def check_instances_fit_images(
    pipelines: dict[str, tuple[PipelineConfig, YamlDocument]],
    environments: dict[str, tuple[EnvironmentConfig, YamlDocument]],
) -> list[DefinitionError]:
    """A step on a GPU instance runs a GPU-capable image (`images.<key>.gpu: true`), and a
    GPU image runs on a GPU instance: otherwise the GPU is paid for and unused, or a CUDA image
    of several GB runs on a CPU. AWS environments only: a local environment runs no images.
    The error sits where the instance type is chosen (the environment's `instance_types.<key>`,
    or the step's literal ml.* type, one line for all environments)."""
    errors: list[DefinitionError] = []
    literal: dict[tuple[int, FieldPath, str, str, bool], list[str]] = {}
    docs: dict[int, tuple[YamlDocument, str, str]] = {}
    for env, env_doc in environments.values():
        if env.kind != "aws":
            continue
        for pipeline, doc in pipelines.values():
            for index, step in enumerate(pipeline.steps):
                image = getattr(step, "image", None)
                spec = env.images.get(image) if image is not None else None
                if spec is None:
                    continue  # a missing image is check_steps_against_environments' error
                keys: list[tuple[FieldPath, str]] = []
                if isinstance(getattr(step, "instance_type", None), str):
                    keys.append((("instance_type",), step.instance_type))
                for i, key in enumerate(getattr(step, "inference_instance_types", [])):
                    keys.append((("inference_instance_types", i), key))
                for field_path, key in keys:
                    instance = key if key.startswith("ml.") else env.instance_types.get(key)
                    if instance is None or is_gpu_instance(instance) == spec.gpu:
                        continue
                    if key.startswith("ml."):
                        docs[id(doc)] = (doc, step.name, pipeline.name)
                        where = (id(doc), ("steps", index, *field_path), image, instance, spec.gpu)
                        literal.setdefault(where, []).append(env_doc.path.name)
                        continue
                    problem = _fit_problem(
                        instance, step.name, pipeline.name, image, spec.gpu, env_doc.path.name
                    )
                    errors.append(env_doc.error(("instance_types", key), problem))
    for (doc_id, path, image, instance, gpu), files in literal.items():
        doc, step_name, pipeline_name = docs[doc_id]
        problem = _fit_problem(instance, step_name, pipeline_name, image, gpu, ", ".join(files))
        errors.append(doc.error(path, problem))
    return errors


def _fit_problem(
    instance: str, step: str, pipeline: str, image: str, gpu: bool, env_files: str
) -> str:
    flag = f"images.{image}.gpu is {str(gpu).lower()} in {env_files}"
    if gpu:
        return (
            f"{instance} has no GPU, but step {step} of {pipeline} runs image {image!r}, a GPU "
            f"image ({flag}): set a GPU instance type (ml.g*, ml.p*) here or give the step a "
            "CPU image"
        )
    return (
        f"{instance} is a GPU instance, but step {step} of {pipeline} runs image {image!r}, "
        f"which is not GPU-capable ({flag}): set a CPU instance type here or give the step a "
        "GPU image"
    )
