"""The evaluation job: metrics, evaluation.json's shape, the champion comparison that the quality
gate reads, the optional LLM judge, and bad inputs."""

from __future__ import annotations

import json
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from components.common import twin_model
from components.common.instruction_data import Example
from components.evaluate import text_metrics
from components.evaluate.gate import GateSettings, decide
from components.evaluate.judge import Judge
from components.evaluate.scoring import ScoreSettings, score
from sm_pipelines.local import registry
from sm_pipelines.local.state import LocalState
from tests.components.model.conftest import (
    compiled_step,
    one_line_failure,
    rows,
    run_component,
    write_jsonl,
)

GROUP = "llm-twin-test"
ARN_PREFIX = "arn:aws:sagemaker:us-east-1:000000000000"


def pack(folder: Path, archive: Path) -> Path:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


def evaluation_root(tmp_path: Path, model: Path, test_rows: list[dict[str, Any]]) -> Path:
    root = tmp_path / "job"
    pack(model, root / "processing/input/model/model.tar.gz")
    write_jsonl(root / "processing/input/test/test.jsonl", test_rows)
    return root


def evaluation(root: Path) -> dict[str, Any]:
    return json.loads((root / "processing/output/evaluation/evaluation.json").read_text())


def evaluate_job(root: Path, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The evaluation job on `root` against the local registry in `state`."""
    return run_component(
        "evaluate",
        root,
        "--model-package-group",
        GROUP,
        *args,
        env={"SM_PIPELINES_LOCAL_STATE": str(state)},
    )


def register(state: Path, model: Path | None, status: str, report: dict[str, Any]) -> dict:
    """A version in the local registry, shaped as the pipeline's RegisterModel step stores it."""
    local = LocalState(state)
    version = len(registry.versions(local, GROUP)) + 1
    model_uri = f"s3://bucket/models/v{version}/model.tar.gz"
    if model is not None:
        pack(model, local.s3_path(model_uri))
    report_uri = f"s3://bucket/eval/v{version}/evaluation.json"
    local.put_bytes(report_uri, json.dumps(report).encode())
    return registry.register(
        local,
        GROUP,
        {
            "ModelApprovalStatus": status,
            "InferenceSpecification": {
                "Containers": [{"Image": "serving:local", "ModelDataUrl": model_uri}],
                "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.xlarge"],
            },
            "ModelMetrics": {
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": report_uri}
                }
            },
            "Metrics": {"ModelQuality.Statistics": report},
        },
        "us-east-1",
        "000000000000",
    )


# ---- metrics -------------------------------------------------------------------------------


def test_text_metrics_are_bounded_and_discriminate() -> None:
    reference = "Keep it simple, measure it, and ship it."
    assert text_metrics.token_f1(reference, reference) == 1.0
    assert text_metrics.rouge_l(reference, reference) == 1.0
    assert text_metrics.style_similarity(reference, reference) == pytest.approx(1.0)
    assert text_metrics.token_f1("banana split", reference) == 0.0
    assert text_metrics.rouge_l("", reference) == 0.0
    assert text_metrics.style_similarity("", reference) == 0.0
    # ROUGE-L sees order, F1 does not.
    shuffled = "it ship and it measure simple it keep"
    assert text_metrics.token_f1(shuffled, reference) == pytest.approx(1.0)
    assert text_metrics.rouge_l(shuffled, reference) < 0.5
    similar = "Keep it small, test it, and deploy it."
    unrelated = "QUARTERLY REVENUE ROSE 4% ON STRONG DEMAND"
    assert text_metrics.style_similarity(similar, reference) > text_metrics.style_similarity(
        unrelated, reference
    )


def test_gate_names_the_metric_that_fell_short() -> None:
    settings = GateSettings(min_answer_quality=0.3)
    ok = decide({"answer_quality": 0.5, "perplexity": 9.0}, None, settings)
    assert ok.passed and ok.not_worse_than_champion and ok.comparison is None
    assert ok.reason == "answer_quality 0.5000 meets MinAnswerQuality 0.3; no champion yet"

    low = decide({"answer_quality": 0.1, "perplexity": 9.0}, None, settings)
    assert not low.passed and low.not_worse_than_champion
    assert low.reason == "answer_quality 0.1000 is below MinAnswerQuality 0.3"

    champion = {"version": 4, "metrics": {"answer_quality": 0.6, "perplexity": 5.0}}
    worse = decide({"answer_quality": 0.5, "perplexity": 9.0}, champion, settings)
    assert not worse.passed and not worse.not_worse_than_champion
    assert "answer_quality 0.5000 is worse than champion v4's 0.6000" in worse.reason
    assert "perplexity 9 is worse than champion v4's 5" in worse.reason
    assert worse.comparison == {
        "answer_quality_delta": -0.1,
        "perplexity_ratio": 1.8,
        "worse_metrics": ["answer_quality", "perplexity"],
    }

    close = decide({"answer_quality": 0.59, "perplexity": 5.4}, champion, settings)
    assert close.passed and close.reason.endswith("not worse than champion v4")


def test_scores_of_a_model_and_the_judge(tiny_base: Path) -> None:
    model, tokenizer = twin_model.load(tiny_base)
    examples = [Example(r["instruction"], r["answer"]) for r in rows(4)]
    plain = score(model, tokenizer, examples, ScoreSettings(max_items=3, max_new_tokens=8))
    metrics = plain["metrics"]
    assert metrics["items"] == 3 and len(plain["samples"]) == 3
    for name in ("answer_quality", "rouge_l", "token_f1", "style_similarity"):
        assert 0.0 <= metrics[name] <= 1.0
    assert metrics["perplexity"] > 1000  # an untrained model is close to uniform over 49k ids
    assert "judge_score" not in metrics

    with fake_judge('{"score": 4}') as (base, seen):
        judged = score(
            model,
            tokenizer,
            examples,
            ScoreSettings(max_items=2, max_new_tokens=8),
            Judge(base, "test-key"),
        )["metrics"]
    assert judged["judge_score"] == 0.75 and len(seen) == 2
    assert seen[0]["headers"]["Authorization"] == "Bearer test-key"
    heuristic = judged["answer_quality"] * 2 - 0.75
    assert 0.0 <= heuristic <= 1.0


def test_judge_that_never_answers_is_left_out(tiny_base: Path) -> None:
    with fake_judge("I cannot grade this.") as (base, _):
        assert Judge(base, "k").score_all([("q", "a", "b")]) is None
    assert Judge.from_environment() is None  # LLM_API_BASE / LLM_API_KEY unset


class _JudgeHandler(BaseHTTPRequestHandler):
    reply: ClassVar[str] = ""
    seen: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"headers": dict(self.headers), "body": body, "path": self.path})
        data = json.dumps({"choices": [{"message": {"content": type(self).reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class fake_judge:
    """An OpenAI-compatible chat-completions server on 127.0.0.1 that always says `reply`."""

    def __init__(self, reply: str) -> None:
        self.handler = type("Handler", (_JudgeHandler,), {"reply": reply, "seen": []})

    def __enter__(self) -> tuple[str, list[dict[str, Any]]]:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1", self.handler.seen

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- the job -------------------------------------------------------------------------------


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "state"
    folder.mkdir()
    yield folder


def test_first_candidate_has_no_champion(tmp_path: Path, tiny_base: Path, state: Path) -> None:
    root = evaluation_root(tmp_path, tiny_base, rows(5))
    done = evaluate_job(root, state, "--min-answer-quality", "0.9", "--max-new-tokens", "8")
    assert done.returncode == 0, done.stderr
    report = evaluation(root)
    assert set(report) >= {"metrics", "champion", "comparison", "passed", "reason"}
    metrics = report["metrics"]
    assert set(metrics) >= {
        "answer_quality",
        "perplexity",
        "eval_loss",
        "rouge_l",
        "token_f1",
        "style_similarity",
        "not_worse_than_champion",
        "items",
    }
    assert 0 <= metrics["answer_quality"] <= 1 and metrics["items"] == 5
    assert report["champion"] is None and report["comparison"] is None
    assert metrics["not_worse_than_champion"] == 1
    # An untrained model misses the bar, and the reason says so.
    assert report["passed"] is False
    assert (
        report["reason"].startswith("answer_quality ")
        and "below MinAnswerQuality 0.9" in (report["reason"])
    )
    assert "no Approved version in llm-twin-test: no champion yet" in done.stdout
    # Every value the quality gate and its Fail step read is there, with the type they need.
    gate = compiled_step("quality-gate")["Arguments"]
    paths = [c["LeftValue"]["Std:JsonGet"]["Path"] for c in gate["Conditions"]]
    assert paths == ["metrics.answer_quality", "metrics.not_worse_than_champion"]
    message = gate["ElseSteps"][0]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    read = [v["Std:JsonGet"]["Path"] for v in message if isinstance(v, dict) and "Std:JsonGet" in v]
    assert set(read) == {"reason", "metrics.answer_quality", "metrics.not_worse_than_champion"}
    for path in {*paths, *read}:
        value: Any = report
        for key in path.split("."):
            value = value[key]
        assert isinstance(value, str if path == "reason" else int | float), path


def test_champion_is_re_evaluated_on_the_same_split(
    tmp_path: Path, tiny_base: Path, state: Path
) -> None:
    register(state, tiny_base, "Rejected", {"metrics": {"answer_quality": 1.0, "perplexity": 1}})
    register(state, tiny_base, "Approved", {"metrics": {"answer_quality": 0.0, "perplexity": 9}})
    register(state, None, "PendingManualApproval", {"metrics": {}})
    root = evaluation_root(tmp_path, tiny_base, rows(4))
    done = evaluate_job(root, state, "--max-new-tokens", "8")
    assert done.returncode == 0, done.stderr
    report = evaluation(root)
    champion = report["champion"]
    # The latest *Approved* version (v2), scored again here: the same model scores the same.
    assert champion["version"] == 2 and champion["source"] == "re-evaluated"
    assert champion["model_package_arn"] == f"{ARN_PREFIX}:model-package/{GROUP}/2"
    assert champion["metrics"]["answer_quality"] == report["metrics"]["answer_quality"]
    assert report["comparison"]["answer_quality_delta"] == 0
    assert report["metrics"]["not_worse_than_champion"] == 1 and report["passed"] is True


def test_candidate_worse_than_the_champion_is_rejected(
    tmp_path: Path, tiny_base: Path, state: Path
) -> None:
    # The champion's model is gone from storage: its registered metrics stand in.
    register(state, None, "Approved", {"metrics": {"answer_quality": 0.95, "perplexity": 3.0}})
    root = evaluation_root(tmp_path, tiny_base, rows(3))
    done = evaluate_job(root, state, "--min-answer-quality", "0", "--max-new-tokens", "8")
    assert done.returncode == 0, done.stderr
    report = evaluation(root)
    assert report["champion"]["source"] == "registry"
    assert report["metrics"]["not_worse_than_champion"] == 0 and report["passed"] is False
    assert "is worse than champion v1's 0.9500" in report["reason"]
    assert "perplexity" in report["comparison"]["worse_metrics"]


def test_the_champion_the_pipeline_names_is_the_one_compared(
    tmp_path: Path, tiny_base: Path, state: Path
) -> None:
    # v1 would lose on its registered metrics; the pipeline named v2, and `none` names nobody.
    strong = {"metrics": {"answer_quality": 1.0, "perplexity": 1}}
    weak = {"metrics": {"answer_quality": 0.0, "perplexity": 1e9}}
    older = register(state, None, "Approved", strong)
    named = register(state, None, "Approved", weak)
    root = evaluation_root(tmp_path, tiny_base, rows(2))
    common = ["--max-new-tokens", "4"]

    done = evaluate_job(root, state, *common, "--champion", older["ModelPackageArn"])
    assert done.returncode == 0, done.stderr
    assert evaluation(root)["champion"]["version"] == 1 and not evaluation(root)["passed"]

    done = evaluate_job(root, state, *common, "--champion", named["ModelPackageArn"])
    assert done.returncode == 0, done.stderr
    assert evaluation(root)["champion"]["version"] == 2 and evaluation(root)["passed"]

    done = evaluate_job(root, state, *common, "--champion", "none")
    assert done.returncode == 0, done.stderr
    assert evaluation(root)["champion"] is None and evaluation(root)["comparison"] is None


@pytest.mark.parametrize(
    ("champion", "message"),
    [
        (f"{ARN_PREFIX}:model-package/another-group/1", "is not in the model package group"),
        (f"{ARN_PREFIX}:model-package/{GROUP}/7", "is not in the local registry"),
        ("v3", "is not a model package version ARN"),
    ],
)
def test_a_wrong_champion_fails_before_scoring(
    tmp_path: Path, tiny_base: Path, state: Path, champion: str, message: str
) -> None:
    register(state, None, "Approved", {"metrics": {"answer_quality": 1.0, "perplexity": 1}})
    (state / "registry/another-group").mkdir(parents=True)
    (state / "registry/another-group/1.json").write_text(
        (state / f"registry/{GROUP}/1.json")
        .read_text()
        .replace(f"/{GROUP}/", "/another-group/")
        .replace(f'"{GROUP}"', '"another-group"')
    )
    root = evaluation_root(tmp_path, tiny_base, rows(2))
    done = evaluate_job(root, state, "--champion", champion)
    one_line_failure(done, "evaluate", message)
    assert "candidate answer_quality" not in done.stdout


def test_unreadable_champion_without_metrics_fails(
    tmp_path: Path, tiny_base: Path, state: Path
) -> None:
    register(state, None, "Approved", {"note": "no metrics here"})
    root = evaluation_root(tmp_path, tiny_base, rows(2))
    done = evaluate_job(root, state)
    one_line_failure(done, "evaluate", "champion v1 cannot be re-evaluated")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty-test", "test split is empty"),
        ("no-model", "expected one model.tar.gz or a model folder"),
        ("corrupt-model", "model.tar.gz is not a readable model archive"),
    ],
)
def test_bad_inputs_fail_in_one_line(
    tmp_path: Path, tiny_base: Path, state: Path, case: str, message: str
) -> None:
    root = evaluation_root(tmp_path, tiny_base, rows(2))
    if case == "empty-test":
        (root / "processing/input/test/test.jsonl").write_text("\n")
    elif case == "no-model":
        (root / "processing/input/model/model.tar.gz").unlink()
    else:
        (root / "processing/input/model/model.tar.gz").write_bytes(b"not a tarball")
    done = evaluate_job(root, state)
    one_line_failure(done, "evaluate", message)
    assert not (root / "processing/output/evaluation/evaluation.json").exists()
