"""The artifact bucket: code bundles, datasets, models and evaluation reports live here."""

from __future__ import annotations

from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.infra.resources import Resource, retained

BUCKET_ID = "ArtifactBucket"
# Old versions of overwritten or deleted objects are kept this long, then expire.
NONCURRENT_DAYS = 90


def artifact_bucket(env: EnvironmentConfig) -> dict[str, Resource]:
    """SSE-S3 encryption (AES256: the jobs and roles need no KMS grant to read it), versioning,
    every kind of public access blocked, ACLs off, and EventBridge notifications on, which the
    `s3-object-created` triggers need (upsert then finds them on and changes nothing)."""
    return {
        BUCKET_ID: retained(
            {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": env.bucket,
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                        ]
                    },
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                    "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                    "NotificationConfiguration": {
                        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
                    },
                    "LifecycleConfiguration": {
                        "Rules": [
                            {
                                "Id": "expire-old-versions",
                                "Status": "Enabled",
                                "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_DAYS},
                                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                            }
                        ]
                    },
                },
            }
        )
    }
