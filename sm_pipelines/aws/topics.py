"""SNS topics (KMS-encrypted, publishable by EventBridge) and their subscriptions."""

from __future__ import annotations

import json
from typing import Any

from sm_pipelines.aws.changes import Change
from sm_pipelines.aws.clients import aws_errors, is_not_found
from sm_pipelines.aws.tags import as_list, is_managed
from sm_pipelines.config.alerts import AlertsConfig
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.naming import Names

PENDING = "PendingConfirmation"


def topic_policy(env: EnvironmentConfig, arn: str) -> dict[str, Any]:
    """The account manages the topic; EventBridge may publish to it from this account only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountManagesTopic",
                "Effect": "Allow",
                "Principal": {"AWS": Names(env).account_root()},
                "Action": [
                    "sns:GetTopicAttributes",
                    "sns:SetTopicAttributes",
                    "sns:Subscribe",
                    "sns:ListSubscriptionsByTopic",
                    "sns:Publish",
                    "sns:DeleteTopic",
                ],
                "Resource": arn,
            },
            {
                "Sid": "EventBridgePublishes",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": env.account_id}},
            },
        ],
    }


def managed_topics(sns: Any, env: EnvironmentConfig) -> list[str]:
    found = []
    with aws_errors("sns list_topics"):
        for page in sns.get_paginator("list_topics").paginate():
            for topic in page.get("Topics", []):
                tags = sns.list_tags_for_resource(ResourceArn=topic["TopicArn"]).get("Tags", [])
                if is_managed({t["Key"]: t["Value"] for t in tags}, env):
                    found.append(topic["TopicArn"])
    return found


def _subscriptions(sns: Any, arn: str) -> dict[tuple[str, str], str]:
    found = {}
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn):
        for sub in page.get("Subscriptions", []):
            found[(sub["Protocol"], sub["Endpoint"])] = sub["SubscriptionArn"]
    return found


def apply_topics(
    sns: Any, alerts: AlertsConfig, env: EnvironmentConfig, tags: dict[str, str]
) -> list[Change]:
    changes = []
    for topic, spec in alerts.topics.items():
        name, arn = Names(env).topic(topic), Names(env).topic_arn(topic)
        desired = {
            "DisplayName": spec.display_name,
            "Policy": json.dumps(topic_policy(env, arn), sort_keys=True),
        }
        if env.alerts.kms_key:
            desired["KmsMasterKeyId"] = env.alerts.kms_key
        with aws_errors(f"sns topic {name}"):
            try:
                attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
            except Exception as exc:
                if not is_not_found(exc):
                    raise
                attributes = None
            differences = []
            if attributes is None:
                sns.create_topic(Name=name, Attributes=desired, Tags=as_list(tags))
                state = "created"
            else:
                for key, value in desired.items():
                    current = attributes.get(key)
                    if key == "Policy":
                        same = current and json.loads(current) == json.loads(value)
                    else:
                        same = current == value
                    if not same:
                        sns.set_topic_attributes(
                            TopicArn=arn, AttributeName=key, AttributeValue=value
                        )
                        differences.append(key)
                state = "updated" if differences else "unchanged"
            existing = _subscriptions(sns, arn)
            wanted = {(s.protocol, s.endpoint) for s in env.alerts.subscriptions.get(topic, [])}
            for protocol, endpoint in sorted(wanted - set(existing)):
                sns.subscribe(
                    TopicArn=arn, Protocol=protocol, Endpoint=endpoint, ReturnSubscriptionArn=True
                )
                differences.append(f"+{protocol}:{endpoint}")
            for key in sorted(set(existing) - wanted):
                # A subscription still awaiting confirmation has no ARN to remove yet.
                if existing[key] != PENDING:
                    sns.unsubscribe(SubscriptionArn=existing[key])
                    differences.append(f"-{key[0]}:{key[1]}")
            if state == "unchanged" and differences:
                state = "updated"
        changes.append(Change("topic", name, state, ", ".join(differences)))
    desired_arns = {Names(env).topic_arn(topic) for topic in alerts.topics}
    for arn in sorted(set(managed_topics(sns, env)) - desired_arns):
        with aws_errors(f"sns delete_topic {arn}"):
            sns.delete_topic(TopicArn=arn)
        changes.append(Change("topic", arn.rsplit(":", 1)[-1], "deleted"))
    return changes
