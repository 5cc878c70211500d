"""The image-parity gate: each AWS step's image provides what its component imports."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sm_pipelines.cli import main
from sm_pipelines.config.loader import load_definitions
from sm_pipelines.definition.parity import (
    parity_problems,
    provided_by,
    setting_reads,
    settings_read,
    third_party_modules,
)

ROOT = Path(__file__).resolve().parents[1]


def test_every_step_of_the_real_definitions_has_what_it_imports() -> None:
    assert parity_problems(load_definitions(ROOT / "definitions")) == []


def test_an_image_without_opik_fails_the_monitoring_step_in_one_line_per_environment() -> None:
    processing = provided_by(ROOT, "processing") - {"opik"}
    problems = parity_problems(
        load_definitions(ROOT / "definitions"), provided={"processing": processing}
    )
    # The preferences step of llm-twin-ct reads people's ratings from Opik too.
    assert problems == [
        line
        for env in ("production", "staging")
        for line in (
            f"{env}/llm-twin-ct: step preferences: components.preferences.__main__ imports "
            "opik (opik), which image processing does not provide",
            f"{env}/llm-twin-monitoring: step monitor: components.monitor.__main__ imports opik "
            "(opik), which image processing does not provide",
        )
    ]


def test_the_import_closure_follows_lazy_imports_and_skips_the_standard_library() -> None:
    etl = third_party_modules("components.etl.__main__")
    assert "pymongo" in etl and "json" not in etl and "components" not in etl
    # The monitoring job imports opik only when OPIK_API_KEY is set; AWS sets it.
    assert "opik" in third_party_modules("components.monitor.__main__")
    # The Lambda handler must not pull the model stack in (the Lambda runtime has no torch).
    assert not {"torch", "transformers", "peft"} & third_party_modules(
        "components.champion.handler"
    )


def test_the_images_provide_their_extras_and_base() -> None:
    processing = provided_by(ROOT, "processing")
    assert {"pymongo", "opik", "peft", "torch", "boto3"} <= processing
    training = provided_by(ROOT, "training")
    assert {"peft", "opik"} <= training  # opik: evaluate publishes Opik experiments
    assert not {"pymongo", "qdrant-client"} & training  # only the train and evaluate extras


def test_the_cli_gate(capsys) -> None:
    assert main(["--definitions", str(ROOT / "definitions"), "parity"]) == 0
    assert "ok: every step's image provides" in capsys.readouterr().out


def test_settings_reads_are_found_through_accessors_and_literals() -> None:
    source = (
        "from components.common.settings import mongo_settings, setting\n"
        "def main(name):\n"
        "    mongo_settings()\n"
        '    setting("FEATURE_TOKEN", required=False)\n'
        "    setting(name)\n"
    )
    names, unknown = setting_reads(source, {"mongo_settings": {"MONGODB_URI"}})
    assert names == {"MONGODB_URI", "FEATURE_TOKEN"}
    assert unknown == [5]  # a name the gate cannot read statically fails it
    # The real settings module's accessors, and a job's closure through them.
    assert settings_read("components.features.__main__")[0] == {"MONGODB_URI", "QDRANT_API_KEY"}
    # The judge reads its key through the settings path, so evaluation must declare it.
    assert "LLM_API_KEY" in settings_read("components.evaluate.__main__")[0]


def test_a_step_that_reads_an_undeclared_secret_fails_the_gate(
    definitions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The fixture pipeline's etl step reads MONGODB_URI (mongo_settings) but no longer declares it.
    pipeline = definitions / "pipelines" / "llm-twin-ct.yaml"
    text = pipeline.read_text(encoding="utf-8")
    declared = "    component: etl\n"
    assert text.count(declared) == 1
    start = text.index(declared)
    end = text.index("    secrets: [MONGODB_URI]\n", start)
    pipeline.write_text(
        text[:end] + text[end:].replace("    secrets: [MONGODB_URI]\n", "", 1), encoding="utf-8"
    )
    shutil.copytree(ROOT / "containers", definitions.parent / "containers")
    assert main(["--definitions", str(definitions), "build"]) == 0
    capsys.readouterr()
    problems = [p for p in parity_problems(load_definitions(definitions)) if "MONGODB_URI" in p]
    assert problems == [
        f"{env}/llm-twin-ct: step etl: components.etl.__main__ reads MONGODB_URI, which the step "
        "does not get: add MONGODB_URI to the step's secrets in "
        "definitions/pipelines/llm-twin-ct.yaml (with a reference in "
        f"definitions/environments/{env}.yaml secrets), or set it in that environment's "
        "variables or the step's environment"
        for env in ("production", "staging")
    ]
    assert main(["--definitions", str(definitions), "parity"]) == 2
    assert "step etl: components.etl.__main__ reads MONGODB_URI" in capsys.readouterr().err
