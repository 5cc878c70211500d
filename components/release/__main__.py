"""Release job: the three steps of llm-twin-deploy, which EventBridge starts when a person
approves or rejects a model version (the model package ARN is the pipeline's parameter).

  deploy      the version, when Approved, unless the endpoint already serves it (CT's own deploy
              step may have shipped it); when Rejected and live, the latest Approved version
              goes back. Reuses components.deploy (blue/green in AWS, the record locally).
  smoke-test  the endpoint serves the expected version and answers a prompt (AWS:
              invoke_endpoint; locally the deploy job's health check on the record's model).
              Records passed 0/1 rather than failing, so the pipeline's condition can roll back.
  roll-back   the endpoint back on the config it ran before the deploy (none: removed).

Each writes <action>.json to the `release` output, which the pipeline reads as a property file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from components.common import artifacts
from components.common.contract import processing_output
from components.common.job import JobError, run_job
from components.deploy import __main__ as deploy_job

PROG = "release"
PROMPT = "Say hello."


def write_report(action: str, report: dict[str, Any]) -> Path:
    path = processing_output("release") / f"{action}.json"
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def deploy(argv: list[str]) -> int:
    args = deploy_job.parse_args(argv)
    outcome = deploy_job.ship(args, on_rejected="roll-back")
    write_report("deployment", outcome.report(args.endpoint_name))
    print(f"{PROG}: {outcome.action}: {outcome.message}")
    return 0


def _smoke_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"{PROG} smoke-test")
    parser.add_argument("--endpoint-name", required=True)
    parser.add_argument("--expect", required=True, help="the package ARN it must serve")
    parser.add_argument("--changed", default="1", help="0: the deploy changed nothing")
    parser.add_argument("--timeout-seconds", type=float, default=3600)
    return parser.parse_args(argv)


def _answers(body: Any) -> bool:
    return (
        isinstance(body, list)
        and len(body) == 1
        and isinstance(body[0], dict)
        and isinstance(body[0].get("generated_text"), str)
    )


def check_aws(args: argparse.Namespace) -> str:
    import boto3

    endpoint = deploy_job.endpoint_for(args)
    live, config = endpoint.live()
    if live != args.expect:
        raise JobError(
            f"endpoint {args.endpoint_name} serves {live or 'nothing'}, not {args.expect}"
        )
    response = boto3.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=args.endpoint_name,
        ContentType="application/json",
        Accept="application/json",
        Body=json.dumps({"inputs": PROMPT, "parameters": {"max_new_tokens": 8}}),
    )
    body = json.loads(response["Body"].read())
    if not _answers(body):
        raise JobError(f"endpoint {args.endpoint_name} answered {str(body)[:200]!r}")
    return f"endpoint {args.endpoint_name} ({config}) answered a test prompt"


def check_local(state: Path, args: argparse.Namespace) -> str:
    from components.common import hf_env, local_endpoints
    from components.deploy.local_endpoint import health_check

    record = local_endpoints.read(state, args.endpoint_name) or {}
    live = record.get("ModelPackageArn")
    if live != args.expect:
        raise JobError(
            f"endpoint {args.endpoint_name} serves {live or 'nothing'}, not {args.expect}"
        )
    hf_env.configure(offline=True)
    health_check(Path(record["ModelPath"]))
    return f"local endpoint {args.endpoint_name} ({record['EndpointConfigName']}) answered"


def smoke_test(argv: list[str]) -> int:
    args = _smoke_args(argv)
    if args.changed.strip() in ("0", "false"):
        report = {"passed": 1, "reason": "nothing was deployed; the endpoint is as it was"}
    else:
        state = artifacts.local_state()
        try:
            reason = check_aws(args) if state is None else check_local(state, args)
            report = {"passed": 1, "reason": reason}
        except Exception as exc:  # any failure is a failed smoke test, which rolls back
            detail = " ".join(str(exc).split()) or type(exc).__name__
            report = {"passed": 0, "reason": f"smoke test failed: {detail}"[:1000]}
    report["endpoint"] = args.endpoint_name
    write_report("smoke", report)
    print(f"{PROG}: {'passed' if report['passed'] else 'FAILED'}: {report['reason']}")
    return 0


def roll_back(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"{PROG} roll-back")
    parser.add_argument("--endpoint-name", required=True)
    parser.add_argument("--to-config", required=True, help="the config before; none: remove")
    parser.add_argument("--timeout-seconds", type=float, default=3600)
    args = parser.parse_args(argv)
    config = None if args.to_config in ("", "none") else args.to_config
    message = deploy_job.endpoint_for(args).roll_back_to(config)
    write_report("rollback", {"endpoint": args.endpoint_name, "to": config or "none"})
    print(f"{PROG}: {message}")
    return 0


ACTIONS = {"deploy": deploy, "smoke-test": smoke_test, "roll-back": roll_back}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ACTIONS:
        raise JobError(f"name an action first: {', '.join(ACTIONS)}")
    return ACTIONS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(run_job(PROG, lambda: main()))
