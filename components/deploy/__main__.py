"""Deploy job: put a registered model package version behind the endpoint.

Only an Approved version is deployed. A version waiting for manual approval (production) ends
the job successfully without deploying, so the pipeline does not fail for doing what it should;
approving it later and re-running deploy ships it. A Rejected version fails the job.

A version the endpoint already serves is not deployed again (CT's deploy step and the
llm-twin-deploy pipeline that approval starts both end here, so a version approved on
registration is deployed once). `ship(..., on_rejected="roll-back")` is what llm-twin-deploy
does with a Rejected version: when it is the live one, the latest Approved version goes back.

In AWS: a new Model and EndpointConfig, then create the endpoint or update it blue/green (old
config kept, rollback on failure), then target-tracking autoscaling from AUTOSCALING_*. Under
the local executor: the model is unpacked, health-checked and recorded as
<state>/endpoints/<name>.json, which `python -m components.serving.model_server` serves.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.common import artifacts, hf_env, model_registry
from components.common.contract import ml_root
from components.common.job import JobError, run_job
from components.deploy import autoscaling

PENDING = "PendingManualApproval"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="components.deploy")
    parser.add_argument("--model-package-arn", required=True)
    parser.add_argument("--endpoint-name", required=True)
    parser.add_argument("--instance-type", help="default: the version's first realtime type")
    parser.add_argument("--role-arn", help="model execution role; default: this job's role")
    parser.add_argument("--timeout-seconds", type=float, default=3600)
    args = parser.parse_args(argv)
    if args.timeout_seconds <= 0:
        parser.error("--timeout-seconds must be > 0")
    return args


def job_role_arn() -> str | None:
    """The role this processing job runs with, from the config SageMaker mounts in the job."""
    config = ml_root() / "config" / "processingjobconfig.json"
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("RoleArn")
    except (OSError, json.JSONDecodeError):
        return None


@dataclass(frozen=True)
class Outcome:
    """What a deploy did: `action` is deployed, unchanged or skipped; `previous_config` is what
    the endpoint ran before (the rollback target), `serving` the package it serves now."""

    action: str
    message: str
    serving: str | None = None
    previous: str | None = None
    previous_config: str | None = None

    def report(self, endpoint: str) -> dict[str, Any]:
        return {
            "action": self.action,
            "changed": int(self.action == "deployed"),
            "endpoint": endpoint,
            "model_package_arn": self.serving or "none",
            "previous_model_package_arn": self.previous or "none",
            "previous_endpoint_config": self.previous_config or "none",
            "message": self.message,
        }


class AwsEndpoint:
    """The SageMaker endpoint, through the blue/green Deployer."""

    def __init__(self, args: argparse.Namespace) -> None:
        import boto3

        from components.deploy.sagemaker_endpoint import Deployer

        self.args = args
        self.deployer = Deployer(
            boto3.client("sagemaker"),
            boto3.client("application-autoscaling"),
            timeout_seconds=args.timeout_seconds,
        )

    def _call(self, action: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return action()
        except (ClientError, BotoCoreError) as exc:
            raise JobError(f"AWS call failed: {exc}") from None

    def live(self) -> tuple[str | None, str | None]:
        return self._call(lambda: self.deployer.live(self.args.endpoint_name))

    def deploy(
        self, package: model_registry.ModelPackage, scaling: autoscaling.ScalingPolicy | None
    ) -> str:
        role = self.args.role_arn or os.environ.get("MODEL_EXECUTION_ROLE_ARN") or job_role_arn()
        if not role:
            raise JobError("no execution role for the model: pass --role-arn")
        instance_type = self.args.instance_type or next(iter(package.instance_types), None)
        if not instance_type:
            raise JobError(
                f"{package.arn} names no SupportedRealtimeInferenceInstanceTypes; pass "
                "--instance-type"
            )
        endpoint = self.args.endpoint_name
        return self._call(
            lambda: self.deployer.deploy(package, endpoint, role, instance_type, scaling)
        )

    def roll_back_to(self, config: str | None) -> str:
        return self._call(lambda: self.deployer.roll_back_to(self.args.endpoint_name, config))


class LocalEndpoint:
    """<state>/endpoints/<name>.json, which the local model server serves."""

    def __init__(self, state: Path, args: argparse.Namespace) -> None:
        self.state, self.args = state, args

    def live(self) -> tuple[str | None, str | None]:
        from components.common import local_endpoints

        record = local_endpoints.read(self.state, self.args.endpoint_name)
        if not record:
            return None, None
        return record.get("ModelPackageArn"), record.get("EndpointConfigName")

    def deploy(
        self, package: model_registry.ModelPackage, scaling: autoscaling.ScalingPolicy | None
    ) -> str:
        from components.deploy import local_endpoint

        hf_env.configure(offline=True)
        endpoint = self.args.endpoint_name
        record = local_endpoint.deploy(self.state, package, endpoint)
        if scaling is not None:
            print("deploy: autoscaling settings are ignored by local endpoints")
        return (
            f"local endpoint {endpoint} serves version {package.version} "
            f"({record['EndpointConfigName']}); serve it with: python -m "
            f"components.serving.model_server --state {Path(self.state).resolve()} "
            f"--endpoint {endpoint}"
        )

    def roll_back_to(self, config: str | None) -> str:
        from components.deploy import local_endpoint

        return local_endpoint.roll_back_to(self.state, self.args.endpoint_name, config)


def endpoint_for(args: argparse.Namespace) -> AwsEndpoint | LocalEndpoint:
    state = artifacts.local_state()
    return AwsEndpoint(args) if state is None else LocalEndpoint(state, args)


def ship(args: argparse.Namespace, on_rejected: str = "fail") -> Outcome:
    """Deploy the version unless the endpoint already serves it. A Rejected version fails, or
    with on_rejected="roll-back" and the version live, the latest Approved one goes back."""
    scaling = autoscaling.from_environment()  # a bad setting stops the job before any change
    package = model_registry.describe(args.model_package_arn)
    if package.status == PENDING:
        return Outcome(
            "skipped",
            f"not deployed: {package.arn} is {PENDING}; approve it in the model registry, then "
            "deploy it",
        )
    if package.status != model_registry.APPROVED and on_rejected != "roll-back":
        raise JobError(f"refusing to deploy {package.arn}: it is {package.status}, not Approved")
    endpoint = endpoint_for(args)
    live, config = endpoint.live()
    name = args.endpoint_name
    if package.status == model_registry.APPROVED:
        if live == package.arn:
            return Outcome(
                "unchanged",
                f"endpoint {name} already serves {package.arn} (version {package.version}); "
                "nothing to deploy",
                live,
                live,
                config,
            )
        return Outcome("deployed", endpoint.deploy(package, scaling), package.arn, live, config)
    if package.status != model_registry.REJECTED:
        raise JobError(f"refusing to deploy {package.arn}: it is {package.status}, not Approved")
    if live != package.arn:
        return Outcome(
            "unchanged",
            f"{package.arn} is Rejected but endpoint {name} serves {live or 'nothing'}; "
            "nothing to roll back",
            live,
            live,
            config,
        )
    previous = model_registry.champion(package.group)
    if previous is None:
        raise JobError(
            f"{package.arn} was rejected while endpoint {name} serves it, and {package.group} "
            "has no Approved version to go back to; the endpoint still serves it"
        )
    message = endpoint.deploy(previous, scaling)
    return Outcome(
        "deployed",
        f"version {package.version} was rejected while live: back to version "
        f"{previous.version}; {message}",
        previous.arn,
        live,
        config,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"deploy: {ship(args).message}")
    return 0


if __name__ == "__main__":
    sys.exit(run_job("deploy", lambda: main()))
