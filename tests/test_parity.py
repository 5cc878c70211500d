"""The image-parity gate: each AWS step's image provides what its component imports."""

from __future__ import annotations

from pathlib import Path

from sm_pipelines.cli import main
from sm_pipelines.config.loader import load_definitions
from sm_pipelines.definition.parity import parity_problems, provided_by, third_party_modules

ROOT = Path(__file__).resolve().parents[1]


def test_every_step_of_the_real_definitions_has_what_it_imports() -> None:
    assert parity_problems(load_definitions(ROOT / "definitions")) == []


def test_an_image_without_opik_fails_the_monitoring_step_in_one_line_per_environment() -> None:
    processing = provided_by(ROOT, "processing") - {"opik"}
    problems = parity_problems(
        load_definitions(ROOT / "definitions"), provided={"processing": processing}
    )
    assert problems == [
        f"{env}/llm-twin-monitoring: step monitor: components.monitor.__main__ imports opik "
        "(opik), which image processing does not provide"
        for env in ("production", "staging")
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
    assert "peft" in training
    assert not {"pymongo", "qdrant-client", "opik"} & training  # only the train extra there


def test_the_cli_gate(capsys) -> None:
    assert main(["--definitions", str(ROOT / "definitions"), "parity"]) == 0
    assert "ok: every step's image provides" in capsys.readouterr().out
