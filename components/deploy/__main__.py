"""Deploy job: take the registered model package and the endpoint name (stand-in: reports)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="components.deploy")
    parser.add_argument("--model-package-arn", required=True)
    parser.add_argument("--endpoint-name", required=True)
    args = parser.parse_args(argv)
    print(f"deploy: {args.model_package_arn} -> endpoint {args.endpoint_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
