"""S3 sends Object Created events to EventBridge only when the bucket says so."""

from __future__ import annotations

from typing import Any

from sm_pipelines.aws.changes import Change
from sm_pipelines.aws.clients import aws_errors


def enable_eventbridge(s3: Any, bucket: str) -> Change:
    with aws_errors(f"s3 notification configuration of {bucket}"):
        current = s3.get_bucket_notification_configuration(Bucket=bucket)
        current.pop("ResponseMetadata", None)
        if "EventBridgeConfiguration" in current:
            return Change("bucket", bucket, "unchanged", "EventBridge notifications on")
        # Keep the bucket's other notifications: this call replaces the whole configuration.
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={**current, "EventBridgeConfiguration": {}},
        )
    return Change("bucket", bucket, "updated", "EventBridge notifications on")
