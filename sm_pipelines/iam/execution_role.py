"""The policy of an environment's execution role: what SageMaker Pipelines and the jobs it starts
(ETL, features, dataset, training, evaluation, deploy, the Lambda guard) may do."""

from __future__ import annotations

from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.naming import JOB_PREFIX, Names
from sm_pipelines.iam.statements import Policy, Statement, allow, allow_unscoped, policy

SCALING_ROLE_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"


def lambda_role(env: EnvironmentConfig) -> str:
    """The role Lambda steps run as: their own when the environment names one."""
    return env.lambda_role_arn or env.role_arn


def execution_policy(
    env: EnvironmentConfig,
    pipelines: list[str],
    functions: list[str],
    event_sources: list[str] | None = None,
) -> Policy:
    """`functions`: the Lambda ARNs the pipelines call (their steps run as the pipeline role);
    `event_sources`: the custom event sources pipelines start on, which jobs may emit."""
    arns = Names(env)
    guard_runs_here = bool(functions) and lambda_role(env) == env.role_arn
    statements = [
        *_job_statements(arns, pipelines),
        *_registry_and_endpoint(arns),
        *_autoscaling(arns),
        allow(
            "PassItselfToSageMaker",
            ["iam:PassRole"],
            [env.role_arn],
            {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        ),
        allow(
            "ReadWriteArtifacts",
            ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            [arns.objects()],
        ),
        allow(
            "ListArtifacts",
            ["s3:ListBucket"],
            [arns.bucket()],
            {"StringLike": {"s3:prefix": [env.prefix, f"{env.prefix}/*"]}},
        ),
        allow("LocateBucket", ["s3:GetBucketLocation"], [arns.bucket()]),
        allow(
            "PullJobImages",
            ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            [arn for spec in env.images.values() if (arn := arns.image_repository(spec))],
        ),
        allow_unscoped("LogInToEcr", ["ecr:GetAuthorizationToken"]),
        allow(
            "WriteLogs",
            [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
            ],
            [
                *arns.log_group("/aws/sagemaker/ProcessingJobs"),
                *arns.log_group("/aws/sagemaker/TrainingJobs"),
                *arns.log_group(f"/aws/sagemaker/Endpoints/{env.endpoint_name}"),
                *(g for f in functions if guard_runs_here for g in arns.function_log_group(f)),
            ],
        ),
        allow_unscoped(
            "PublishMetrics",
            ["cloudwatch:PutMetricData"],
            {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*"]}},
        ),
        *_secrets(arns),
    ]
    if event_sources:
        statements.append(
            allow(
                "EmitPipelineEvents",
                ["events:PutEvents"],
                [arns.arn("events", "event-bus/default")],
                {"StringEquals": {"events:source": event_sources}},
            )
        )
    if functions:
        statements.append(allow("CallLambdaSteps", ["lambda:InvokeFunction"], functions))
    if guard_runs_here:
        # The overlap guard asks whether an earlier execution of its pipeline still runs.
        statements.append(
            allow(
                "GuardListsExecutions",
                ["sagemaker:ListPipelineExecutions"],
                [arns.pipeline(name) for name in pipelines],
            )
        )
    return policy(statements)


def _job_statements(arns: Names, pipelines: list[str]) -> list[Statement]:
    jobs = [
        f"sagemaker:{verb}{kind}"
        for verb in ("Create", "Describe", "Stop")
        for kind in ("ProcessingJob", "TrainingJob")
    ]
    return [
        allow(
            "RunPipelineJobs",
            ["sagemaker:AddTags", *jobs],
            [
                arns.sagemaker("processing-job", f"{JOB_PREFIX}*"),
                arns.sagemaker("training-job", f"{JOB_PREFIX}*"),
            ],
        ),
        # PipelineExperimentConfig: an experiment per pipeline, a trial per execution (named by
        # its random id), a trial component per job.
        allow(
            "TrackExecutions",
            [
                "sagemaker:AddTags",
                "sagemaker:AssociateTrialComponent",
                "sagemaker:CreateExperiment",
                "sagemaker:CreateTrial",
                "sagemaker:CreateTrialComponent",
                "sagemaker:DescribeExperiment",
                "sagemaker:DescribeTrial",
                "sagemaker:DescribeTrialComponent",
            ],
            [
                *(arns.sagemaker("experiment", name) for name in pipelines),
                arns.sagemaker("experiment-trial", "*"),
                arns.sagemaker("experiment-trial-component", f"{JOB_PREFIX}*"),
            ],
        ),
    ]


def _registry_and_endpoint(arns: Names) -> list[Statement]:
    group, endpoint = arns.env.model_package_group, arns.env.endpoint_name
    return [
        allow(
            "RegisterModels",
            [
                "sagemaker:AddTags",
                "sagemaker:CreateModelPackage",
                "sagemaker:CreateModelPackageGroup",
                "sagemaker:DescribeModelPackage",
                "sagemaker:DescribeModelPackageGroup",
            ],
            [
                arns.sagemaker("model-package-group", group),
                arns.sagemaker("model-package", f"{group}/*"),
            ],
        ),
        allow_unscoped("FindTheChampion", ["sagemaker:ListModelPackages"]),
        # Blue/green: a new model and endpoint config per deploy, named after the endpoint; a
        # failed first deploy deletes the endpoint it created.
        allow(
            "DeployTheEndpoint",
            [
                "sagemaker:AddTags",
                "sagemaker:CreateEndpoint",
                "sagemaker:CreateEndpointConfig",
                "sagemaker:CreateModel",
                "sagemaker:DeleteEndpoint",
                "sagemaker:DeleteEndpointConfig",
                "sagemaker:DeleteModel",
                "sagemaker:DescribeEndpoint",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:DescribeModel",
                "sagemaker:UpdateEndpoint",
                "sagemaker:UpdateEndpointWeightsAndCapacities",
            ],
            [
                arns.sagemaker("endpoint", endpoint),
                arns.sagemaker("endpoint-config", f"{endpoint}*"),
                arns.sagemaker("model", f"{endpoint}*"),
            ],
        ),
        # llm-twin-deploy's smoke test asks the endpoint it just deployed one question.
        allow(
            "SmokeTestTheEndpoint",
            ["sagemaker:InvokeEndpoint"],
            [arns.sagemaker("endpoint", endpoint)],
        ),
    ]


def _autoscaling(arns: Names) -> list[Statement]:
    """Target-tracking scaling of the endpoint, which deploy lifts for an update and applies
    again afterwards."""
    return [
        allow(
            "ScaleTheEndpoint",
            [
                "application-autoscaling:DeregisterScalableTarget",
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:RegisterScalableTarget",
            ],
            [arns.arn("application-autoscaling", "scalable-target/*")],
            {"StringEquals": {"application-autoscaling:service-namespace": "sagemaker"}},
        ),
        allow_unscoped(
            "ReadScaling",
            [
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:DescribeScalingPolicies",
            ],
        ),
        allow(
            "ScalingAlarms",
            ["cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm"],
            [arns.arn("cloudwatch", f"alarm:TargetTracking-endpoint/{arns.env.endpoint_name}/*")],
        ),
        allow(
            "ScalingServiceLinkedRole",
            ["iam:CreateServiceLinkedRole"],
            [
                arns.role(
                    f"aws-service-role/{SCALING_ROLE_SERVICE}/"
                    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
                )
            ],
            {"StringEquals": {"iam:AWSServiceName": SCALING_ROLE_SERVICE}},
        ),
    ]


def _secrets(arns: Names) -> list[Statement]:
    """Jobs resolve their `<NAME>_SECRET` references at start: those, and nothing else."""
    secrets = arns.env.secrets.values()
    managed = sorted({s.secrets_manager for s in secrets if s.secrets_manager})
    parameters = sorted({s.ssm for s in secrets if s.ssm})
    statements = []
    if managed:
        statements.append(
            allow(
                "ReadSecrets", ["secretsmanager:GetSecretValue"], [arns.secret(s) for s in managed]
            )
        )
    if parameters:
        statements.append(
            allow("ReadParameters", ["ssm:GetParameter"], [arns.parameter(p) for p in parameters])
        )
    return statements
