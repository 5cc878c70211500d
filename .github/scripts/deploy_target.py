"""What CD needs to know about one environment, as GitHub step outputs (`name=value` lines):
its region and account, its ECR registry, and the repository each container image goes to.

Usage: python .github/scripts/deploy_target.py ENV >> "$GITHUB_OUTPUT"
"""

from __future__ import annotations

import sys
from pathlib import Path

from sm_pipelines.config.loader import load_definitions
from sm_pipelines.errors import UserError
from sm_pipelines.iam.statements import DLC_ACCOUNT

ROOT = Path(__file__).resolve().parents[2]


def outputs(env_name: str, root: Path = ROOT) -> dict[str, str]:
    env = load_definitions(root / "definitions").environment(env_name)
    found = {
        "environment": env.name,
        "region": env.region,
        "account_id": env.account_id,
        "registry": f"{env.account_id}.dkr.ecr.{env.region}.amazonaws.com",
        "dlc_account": DLC_ACCOUNT,
    }
    containers = sorted(p.parent.name for p in (root / "containers").glob("*/Dockerfile"))
    for name in containers:
        spec = env.images.get(name)
        if spec is None or spec.repository is None:
            raise UserError(
                f"definitions/environments/{env_name}.yaml: images.{name}: containers/{name} "
                "is built by CD but the environment names no ECR repository for it"
            )
        found[f"{name}_repository"] = spec.repository
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: deploy_target.py ENV", file=sys.stderr)
        return 2
    try:
        for key, value in outputs(argv[1]).items():
            print(f"{key}={value}")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
