"""Deploy job: put a registered model package version behind the endpoint.

Only an Approved version is deployed. A version waiting for manual approval (production) ends
the job successfully without deploying, so the pipeline does not fail for doing what it should;
approving it later and re-running deploy ships it. A Rejected version fails the job.

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
from pathlib import Path

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


def deploy_to_aws(
    args: argparse.Namespace,
    package: model_registry.ModelPackage,
    scaling: autoscaling.ScalingPolicy | None,
) -> str:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from components.deploy.sagemaker_endpoint import Deployer

    role = args.role_arn or os.environ.get("MODEL_EXECUTION_ROLE_ARN") or job_role_arn()
    if not role:
        raise JobError("no execution role for the model: pass --role-arn")
    instance_type = args.instance_type or next(iter(package.instance_types), None)
    if not instance_type:
        raise JobError(
            f"{package.arn} names no SupportedRealtimeInferenceInstanceTypes; pass --instance-type"
        )
    deployer = Deployer(
        boto3.client("sagemaker"),
        boto3.client("application-autoscaling"),
        timeout_seconds=args.timeout_seconds,
    )
    try:
        return deployer.deploy(package, args.endpoint_name, role, instance_type, scaling)
    except (ClientError, BotoCoreError) as exc:
        raise JobError(f"AWS call failed: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    state = artifacts.local_state()
    scaling = autoscaling.from_environment()  # a bad setting stops the job before any change
    package = model_registry.describe(args.model_package_arn)
    if package.status == PENDING:
        print(
            f"deploy: not deployed: {package.arn} is {PENDING}; approve it in the model "
            "registry, then deploy it"
        )
        return 0
    if package.status != model_registry.APPROVED:
        raise JobError(f"refusing to deploy {package.arn}: it is {package.status}, not Approved")
    if state is None:
        outcome = deploy_to_aws(args, package, scaling)
    else:
        from components.deploy import local_endpoint

        hf_env.configure(offline=True)
        record = local_endpoint.deploy(state, package, args.endpoint_name)
        if scaling is not None:
            print("deploy: autoscaling settings are ignored by local endpoints")
        outcome = (
            f"local endpoint {args.endpoint_name} serves version {package.version} "
            f"({record['EndpointConfigName']}); serve it with: python -m "
            f"components.serving.model_server --state {Path(state).resolve()} "
            f"--endpoint {args.endpoint_name}"
        )
    print(f"deploy: {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(run_job("deploy", lambda: main()))
