"""The layout keeps its promises: one table of step kinds that every side follows, one place
that spells ARNs (in the right partition), one job contract both sides of the components
boundary agree on, and a package whose top level stays small."""

from __future__ import annotations

import ast
import importlib
import typing
from pathlib import Path

import pytest

from components.common.contract import JOB_INPUTS, JOB_OPTIONAL_INPUTS, JOB_OUTPUTS
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.naming import Names, partition_for, sagemaker_arn
from sm_pipelines.config.pipeline import StepSpec
from sm_pipelines.config.step_kinds import BY_TYPE, STEP_KINDS, YAML_KINDS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sm_pipelines"


def test_the_yaml_union_has_exactly_the_tables_kinds() -> None:
    union = typing.get_args(typing.get_args(StepSpec)[0])
    kinds = {typing.get_args(model.model_fields["kind"].annotation)[0] for model in union}
    assert kinds == set(YAML_KINDS)


@pytest.mark.parametrize("kind", STEP_KINDS, ids=lambda kind: kind.sagemaker_type)
def test_every_kind_has_its_modules(kind) -> None:
    local = importlib.import_module(kind.local_module)
    assert callable(local.prepare) and callable(local.run)
    if kind.yaml_kind is not None:
        assert kind.compile_module is not None
        assert callable(importlib.import_module(kind.compile_module).build)
    else:
        assert kind.compile_module is None


def test_step_modules_on_both_sides_are_all_in_the_table() -> None:
    for side, column in (("compile", "compile_module"), ("local", "local_module")):
        listed = {getattr(kind, column) for kind in STEP_KINDS} - {None}
        found = {
            f"sm_pipelines.{side}.steps.{path.stem}"
            for path in (PACKAGE / side / "steps").glob("*.py")
            if path.stem != "__init__"
        }
        shared = {"sm_pipelines.compile.steps.jobs"}  # what job-step builders share
        assert found - shared == listed, side


def test_cacheable_types_are_the_ones_sagemaker_caches() -> None:
    cached = sorted(t for t, kind in BY_TYPE.items() if kind.cacheable)
    assert cached == ["Processing", "Training", "Transform", "Tuning"]


def _env(region: str, partition: str) -> EnvironmentConfig:
    return EnvironmentConfig(
        name="gov",
        account_id="123456789012",
        region=region,
        role_arn=f"arn:{partition}:iam::123456789012:role/run",
        bucket="artifacts",
        images={"processing": {"repository": "proc", "tag": "t"}},
        instance_types={},
    )


@pytest.mark.parametrize(
    ("region", "partition", "suffix"),
    [
        ("eu-west-1", "aws", "amazonaws.com"),
        ("us-gov-west-1", "aws-us-gov", "amazonaws.com"),
        ("cn-north-1", "aws-cn", "amazonaws.com.cn"),
    ],
)
def test_names_follow_the_partition(region: str, partition: str, suffix: str) -> None:
    names = Names(_env(region, partition))
    assert partition_for(region).name == partition
    assert names.pipeline("Train-Me") == (
        f"arn:{partition}:sagemaker:{region}:123456789012:pipeline/train-me"
    )
    assert names.topic_arn("alerts") == (
        f"arn:{partition}:sns:{region}:123456789012:llm-twin-alerts-gov"
    )
    assert (
        names.events_role_arn()
        == f"arn:{partition}:iam::123456789012:role/llm-twin-gov-eventbridge"
    )
    assert names.bucket() == f"arn:{partition}:s3:::artifacts"
    assert names.image_uri("processing") == f"123456789012.dkr.ecr.{region}.{suffix}/proc:t"
    assert sagemaker_arn(region, "1", "model", "M").startswith(f"arn:{partition}:sagemaker:")


def test_only_the_naming_module_spells_an_arn() -> None:
    spelled = [
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if "arn:aws:" in path.read_text(encoding="utf-8")
    ]
    assert spelled == ["sm_pipelines/config/naming.py"]


def test_the_package_top_level_stays_small() -> None:
    entries = {
        path.name
        for path in PACKAGE.iterdir()
        if path.name not in ("__init__.py", "__main__.py", "__pycache__")
    }
    # DESIGN.md's layout: cli, errors, limits, files and nine concerns (ui/ the newest).
    assert len(entries) <= 13, sorted(entries)


_CALLS = {
    "processing_input": JOB_INPUTS,
    "training_channel": JOB_INPUTS,
    "processing_output": JOB_OUTPUTS,
}


def _contract_calls(component: str) -> dict[str, set[str]]:
    """Literal names each contract function is called with anywhere in the component."""
    used: dict[str, set[str]] = {"inputs": set(), "outputs": set()}
    for path in (ROOT / "components" / component).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id in _CALLS and node.args and isinstance(node.args[0], ast.Constant):
                section = "outputs" if node.func.id == "processing_output" else "inputs"
                used[section].add(node.args[0].value)
    return used


@pytest.mark.parametrize("component", sorted(JOB_OUTPUTS))
def test_components_read_and_write_what_the_contract_says(component: str) -> None:
    used = _contract_calls(component)
    assert used["inputs"] == set(JOB_INPUTS[component]) | set(
        JOB_OPTIONAL_INPUTS.get(component, ())
    )
    assert used["outputs"] == set(JOB_OUTPUTS[component])
