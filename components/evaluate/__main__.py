"""Evaluation job: score the candidate and the champion on the test split, write evaluation.json.

evaluation.json (a PropertyFile of the step; also the registered version's ModelQuality report):
  metrics     the candidate's answer_quality (0-1), perplexity, eval_loss, rouge_l, token_f1,
              style_similarity, judge_score (with a judge), items, not_worse_than_champion (1/0)
  champion    {model_package_arn, version, source, metrics} of the latest Approved version, or
              null when the group has none
  comparison  deltas against the champion, or null
  passed, reason   the verdict and the sentence the Fail step shows
  opik        the test split's Opik dataset and the candidate's and champion's experiments:
              {destination, dataset: {name, items}, experiments: {candidate, champion?},
              experiment_names, records} (experiments.py); the local records lie in opik/
              beside this file. The register step takes this file as the version's ModelQuality
              report, so the registered version names its experiments.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
from pathlib import Path
from typing import Any

from components.champion.handler import NO_CHAMPION
from components.common import artifacts, hf_env, model_registry
from components.common.contract import processing_input, processing_output, write_json
from components.common.instruction_data import Example, read_examples
from components.common.job import JobError, run_job
from components.evaluate import experiments
from components.evaluate.gate import GateSettings, decide
from components.evaluate.judge import Judge
from components.evaluate.scoring import ScoreSettings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="components.evaluate")
    parser.add_argument("--model-package-group", required=True)
    parser.add_argument(
        "--champion",
        help="the champion's model package ARN, or 'none' (default: the group's latest Approved)",
    )
    parser.add_argument("--min-answer-quality", type=float, default=None)
    parser.add_argument("--max-quality-drop", type=float, default=GateSettings.max_quality_drop)
    parser.add_argument(
        "--max-perplexity-rise", type=float, default=GateSettings.max_perplexity_rise
    )
    parser.add_argument("--max-items", type=int, help="test items scored (default: by device)")
    parser.add_argument("--max-new-tokens", type=int, help="answer length cap (default: by device)")
    parser.add_argument(
        "--features-digest",
        help="the features step's digest: names the test split's Opik dataset (default: a "
        "digest of the test split's files)",
    )
    args = parser.parse_args(argv)
    if (args.max_items is not None and args.max_items < 1) or (
        args.max_new_tokens is not None and args.max_new_tokens < 1
    ):
        parser.error("--max-items and --max-new-tokens must be >= 1")
    return args


def score_folder(
    folder: Path, examples: list[Example], settings: ScoreSettings, judge: Judge | None
) -> dict[str, Any]:
    from components.common import twin_model
    from components.evaluate.scoring import score

    model, tokenizer = twin_model.load(folder)
    try:
        return score(model, tokenizer, examples, settings, judge)
    finally:
        del model
        gc.collect()


def champion_metrics(
    package: model_registry.ModelPackage,
    examples: list[Example],
    settings: ScoreSettings,
    judge: Judge | None,
    scratch: Path,
) -> dict[str, Any]:
    """The champion's metrics on this same test split; its registered metrics only when its
    model cannot be loaded any more (the split may have changed since they were computed)."""
    try:
        if not package.model_data_url:
            raise JobError("it has no ModelDataUrl")
        archive = artifacts.fetch(package.model_data_url, scratch / "download")
        folder = artifacts.model_folder(archive, scratch / "champion")
        scored = score_folder(folder, examples, settings, judge)
        return {"source": "re-evaluated", "metrics": scored["metrics"], "items": scored["items"]}
    except JobError as problem:
        stored = (package.report() or {}).get("metrics") or {}
        if not all(
            isinstance(stored.get(k), int | float) for k in ("answer_quality", "perplexity")
        ):
            raise JobError(
                f"champion v{package.version} cannot be re-evaluated ({problem}) and its "
                "registered report has no answer_quality and perplexity to compare with"
            ) from None
        print(f"evaluate: champion v{package.version}: {problem}; using its registered metrics")
        return {"source": "registry", "metrics": stored}


def find_champion(named: str | None, group: str) -> model_registry.ModelPackage | None:
    """The pipeline names the champion (so the step's cache key changes with it); run by hand,
    the job looks it up."""
    if named is None:
        return model_registry.champion(group)
    if named == NO_CHAMPION:
        return None
    package = model_registry.describe(named)
    if package.group != group:
        raise JobError(f"champion {named} is not in the model package group {group}")
    return package


def publish_evaluation(
    args: argparse.Namespace,
    settings: ScoreSettings,
    judge: Judge | None,
    candidate: dict[str, Any],
    champion: dict[str, Any] | None,
    champion_items: list[dict[str, Any]],
    output: Path,
) -> dict[str, Any]:
    """The test split as an Opik dataset, the candidate (and a re-scored champion) as
    experiments on it; evaluation.json's `opik`."""
    digest = args.features_digest or experiments.folder_digest(processing_input("test"))
    dataset = experiments.build_dataset(experiments.dataset_name(digest), candidate["items"])
    when = experiments.timestamp()
    common = {
        "model_package_group": args.model_package_group,
        "features_digest": args.features_digest,
        "max_items": settings.max_items,
        "max_new_tokens": settings.max_new_tokens,
        "judge": judge.model if judge else None,
    }
    runs = [
        experiments.build_experiment(
            dataset,
            "candidate",
            f"{args.model_package_group}-candidate-{when}",
            {**common, "role": "candidate"},
            candidate["metrics"],
            candidate["items"],
        )
    ]
    if champion is not None and champion_items:
        runs.append(
            experiments.build_experiment(
                dataset,
                "champion",
                f"{args.model_package_group}-champion-v{champion['version']}-{when}",
                {
                    **common,
                    "role": "champion",
                    "model_package_arn": champion["model_package_arn"],
                    "version": champion["version"],
                },
                champion["metrics"],
                champion_items,
            )
        )
    published = experiments.record(output, dataset, runs)
    names = ", ".join(f"{e.role} {e.name} ({e.id})" for e in runs)
    print(
        f"evaluate: Opik dataset {dataset.name} ({len(dataset.items)} items), experiments "
        f"{names}: {published['destination']}"
    )
    return published


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    hf_env.configure(offline=True)
    examples = read_examples(processing_input("test"), "test")
    import torch

    settings = ScoreSettings.for_device(
        torch.cuda.is_available(), args.max_items, args.max_new_tokens
    )
    judge = Judge.from_environment()
    # Before the long scoring, so a wrong Opik configuration fails the step at once.
    print(f"evaluate: dataset and experiments go to {experiments.destination()}", flush=True)
    # Before the long scoring, so a wrong champion ARN fails the step at once.
    package = find_champion(args.champion, args.model_package_group)
    with tempfile.TemporaryDirectory(prefix="evaluate-") as scratch_dir:
        scratch = Path(scratch_dir)
        folder = artifacts.model_folder(processing_input("model"), scratch / "candidate")
        candidate = score_folder(folder, examples, settings, judge)
        metrics = candidate["metrics"]
        print(
            f"evaluate: candidate answer_quality {metrics['answer_quality']:.4f}, perplexity "
            f"{metrics['perplexity']:.4g} on {metrics['items']} items "
            f"in {candidate['seconds']:.1f} s"
        )
        champion = None
        champion_items: list[dict[str, Any]] = []
        if package is not None:
            found = champion_metrics(package, examples, settings, judge, scratch)
            champion_items = found.pop("items", [])
            champion = {"model_package_arn": package.arn, "version": package.version, **found}
            print(
                f"evaluate: champion v{package.version} ({found['source']}) answer_quality "
                f"{found['metrics']['answer_quality']:.4f}, perplexity "
                f"{found['metrics']['perplexity']:.4g}"
            )
        else:
            print(f"evaluate: no Approved version in {args.model_package_group}: no champion yet")
    gate = GateSettings(args.min_answer_quality, args.max_quality_drop, args.max_perplexity_rise)
    verdict = decide(metrics, champion, gate)
    metrics["not_worse_than_champion"] = int(verdict.not_worse_than_champion)
    output = processing_output("evaluation")
    published = publish_evaluation(
        args, settings, judge, candidate, champion, champion_items, output
    )
    report = {
        "metrics": metrics,
        "champion": champion,
        "comparison": verdict.comparison,
        "passed": verdict.passed,
        "reason": verdict.reason,
        "model_package_group": args.model_package_group,
        "samples": candidate["samples"],
        "run": {"candidate_seconds": candidate["seconds"], "judge": judge.model if judge else None},
        "opik": published,
    }
    write_json(output / "evaluation.json", report)
    print(f"evaluate: {'passed' if verdict.passed else 'rejected'}: {verdict.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(run_job("evaluate", lambda: main()))
