"""The policy of an environment's CD deploy role: what `make upsert-pipeline` and the image
builds do. It pushes images, uploads code, creates or updates the pipelines and the Lambda
steps, rules and topics around them; it never starts an execution and cannot change roles."""

from __future__ import annotations

from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.naming import Names
from sm_pipelines.iam.execution_role import lambda_role
from sm_pipelines.iam.statements import (
    BASE_IMAGE_REPOSITORIES,
    DLC_ACCOUNT,
    Policy,
    Statement,
    allow,
    allow_unscoped,
    policy,
)

PULL = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
PUSH = ["ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"]


def pass_role(sid: str, role_arn: str, service: str) -> Statement:
    """iam:PassRole for one role, to one service only."""
    return allow(
        sid, ["iam:PassRole"], [role_arn], {"StringEquals": {"iam:PassedToService": service}}
    )


def cd_policy(
    env: EnvironmentConfig,
    pipelines: list[str],
    functions: list[str],
    watches_bucket: bool = False,
) -> Policy:
    """`functions`: the Lambda ARNs the pipelines call; `watches_bucket`: a pipeline starts on
    new objects in the bucket, so upsert turns on its EventBridge notifications."""
    arns = Names(env)
    repositories = sorted({s.repository for s in env.images.values() if s.repository})
    statements = [
        # Pull too: the build reads its layer cache back from the same repositories.
        allow("PushImages", PULL + PUSH, [arns.repository(r) for r in repositories]),
        allow(
            "PullBaseImages",
            PULL,
            [arns.repository(r, account=DLC_ACCOUNT) for r in BASE_IMAGE_REPOSITORIES],
        ),
        allow_unscoped("LogInToEcr", ["ecr:GetAuthorizationToken"]),
        allow(
            "UploadCode",
            # Tagging: every uploaded object is tagged as ours, which is how teardown knows it.
            ["s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging"],
            [arns.objects("code"), arns.objects("definitions")],
        ),
        # Unconditioned so that HeadObject on a bundle not uploaded yet answers 404 rather than
        # 403 (S3 hides absence from callers without ListBucket); it reveals key names of this
        # one bucket, never contents.
        allow("FindUploadedCode", ["s3:ListBucket"], [arns.bucket()]),
        allow(
            "UpsertPipelines",
            [
                "sagemaker:AddTags",
                "sagemaker:CreatePipeline",
                "sagemaker:DescribePipeline",
                "sagemaker:ListTags",
                "sagemaker:UpdatePipeline",
            ],
            [arns.pipeline(name) for name in pipelines],
        ),
        pass_role("PassExecutionRole", env.role_arn, "sagemaker.amazonaws.com"),
        *_rules_and_topics(arns, pipelines),
    ]
    if functions:
        statements += _lambda_steps(arns, functions)
    if watches_bucket:
        statements.append(
            allow(
                "TurnOnBucketEvents",
                ["s3:GetBucketNotification", "s3:PutBucketNotification"],
                [arns.bucket()],
            )
        )
    return policy(statements)


def _rules_and_topics(arns: Names, pipelines: list[str]) -> list[Statement]:
    events_role = arns.events_role()
    return [
        # upsert finds what it manages by its tags, so it reads the tags of every rule and topic
        # in this account and region; it changes only those named as below.
        allow_unscoped("ListRulesAndTopics", ["events:ListRules", "sns:ListTopics"]),
        allow(
            "ReadTags",
            ["events:ListTagsForResource", "sns:ListTagsForResource"],
            [arns.arn("events", "rule/*"), arns.arn("sns", "*")],
        ),
        allow(
            "ApplyRules",
            [
                f"events:{verb}"
                for verb in (
                    "DeleteRule",
                    "DescribeRule",
                    "DisableRule",
                    "EnableRule",
                    "ListTargetsByRule",
                    "PutRule",
                    "PutTargets",
                    "RemoveTargets",
                    "TagResource",
                )
            ],
            [
                *(arns.arn("events", f"rule/{arns.trigger_rule(p, '*')}") for p in pipelines),
                arns.arn("events", f"rule/{arns.alert_rule('*')}"),
            ],
        ),
        allow(
            "ApplyTopics",
            [
                f"sns:{verb}"
                for verb in (
                    "CreateTopic",
                    "DeleteTopic",
                    "GetTopicAttributes",
                    "ListSubscriptionsByTopic",
                    "SetTopicAttributes",
                    "Subscribe",
                    "TagResource",
                    "Unsubscribe",
                )
            ],
            [arns.arn("sns", arns.topic("*"))],
        ),
        # An administrator creates the EventBridge role from `sm-pipelines iam`; upsert checks
        # it and hands it to the rules. Writing roles would let CD grant itself anything.
        allow(
            "CheckEventBridgeRole",
            ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListRoleTags"],
            [arns.role(events_role)],
        ),
        pass_role("PassEventBridgeRole", arns.role(events_role), "events.amazonaws.com"),
    ]


def _lambda_steps(arns: Names, functions: list[str]) -> list[Statement]:
    # Lambda steps are named `<function>-<env>`; ours start with the project's name prefix.
    pattern = arns.lambda_function(f"{arns.prefix}-*")
    own = sorted({*functions, arns.arn("lambda", f"function:{pattern}")})
    return [
        allow_unscoped("ListFunctions", ["lambda:ListFunctions"]),
        # As for rules and topics: found by their tags, changed only by name.
        allow("ReadFunctionTags", ["lambda:ListTags"], [arns.arn("lambda", "function:*")]),
        allow(
            "DeployLambdaSteps",
            [
                "lambda:CreateFunction",
                "lambda:DeleteFunction",
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:TagResource",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
            ],
            own,
        ),
        pass_role("PassLambdaRole", lambda_role(arns.env), "lambda.amazonaws.com"),
    ]
