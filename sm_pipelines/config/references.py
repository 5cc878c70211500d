"""Cross-reference checks inside one pipeline: names, outputs, branches, cycles, components."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sm_pipelines.config.pipeline import (
    ConditionStepSpec,
    LambdaStepSpec,
    PipelineConfig,
    ProcessingStepSpec,
    RegisterStepSpec,
    TrainingStepSpec,
    type_problem,
)
from sm_pipelines.config.refs import ParamRef, PropertyFileRef, StepOutputRef, iter_refs
from sm_pipelines.config.yaml_source import FieldPath, YamlDocument
from sm_pipelines.errors import DefinitionError

TRAINING_OUTPUTS = ("model",)
REGISTER_OUTPUTS = ("model_package_arn",)


def step_outputs(step: Any) -> tuple[str, ...]:
    """Names a `{step, output}` reference may use for this step."""
    if isinstance(step, ProcessingStepSpec):
        return tuple(step.outputs)
    if isinstance(step, TrainingStepSpec):
        return TRAINING_OUTPUTS
    if isinstance(step, RegisterStepSpec):
        return REGISTER_OUTPUTS
    if isinstance(step, LambdaStepSpec):
        return tuple(step.outputs)
    return ()


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
    return errors
