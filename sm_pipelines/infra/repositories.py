"""The ECR repositories the environment's images are pushed to (CD) and pulled from (jobs)."""

from __future__ import annotations

import json

from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.infra.resources import Resource, logical_id, retained

UNTAGGED_DAYS = 14
KEEP_IMAGES = 100

# CD pushes each image under the commit's SHA and moves `latest`; a build leaves untagged
# layers of superseded pushes. Untagged images go after two weeks; of the rest, the newest
# KEEP_IMAGES stay (`latest` is always among them), so an endpoint deployed from an older
# commit keeps its image for as long as that many pushes.
LIFECYCLE_RULES = {
    "rules": [
        {
            "rulePriority": 1,
            "description": f"Expire untagged images after {UNTAGGED_DAYS} days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": UNTAGGED_DAYS,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": f"Keep the {KEEP_IMAGES} most recent images",
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": KEEP_IMAGES,
            },
            "action": {"type": "expire"},
        },
    ]
}


def repository_names(env: EnvironmentConfig) -> list[str]:
    """The repositories of the images given as `repository` (in this account); an image given
    as a full `uri` lives elsewhere and is not ours to create."""
    return sorted({spec.repository for spec in env.images.values() if spec.repository})


def image_repositories(env: EnvironmentConfig) -> dict[str, Resource]:
    resources: dict[str, Resource] = {}
    taken: set[str] = set()
    for name in repository_names(env):
        # Retained: deleting a repository deletes its images.
        resources[logical_id("Repository", name, taken)] = retained(
            {
                "Type": "AWS::ECR::Repository",
                "Properties": {
                    "RepositoryName": name,
                    # Mutable: CD moves the `latest` tag on every push.
                    "ImageTagMutability": "MUTABLE",
                    "ImageScanningConfiguration": {"ScanOnPush": True},
                    "EncryptionConfiguration": {"EncryptionType": "AES256"},
                    "LifecyclePolicy": {
                        "LifecyclePolicyText": json.dumps(LIFECYCLE_RULES, sort_keys=True)
                    },
                },
            }
        )
    return resources
