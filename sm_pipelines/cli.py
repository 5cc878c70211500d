"""The `sm-pipelines` command line. Parsing only: each command imports its module when it runs,
so `sm-pipelines --help` answers without loading the SageMaker SDK."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sm_pipelines.errors import EXIT_STALE, UserError

DEFAULT_DEFINITIONS = "definitions"


def _definitions(args: argparse.Namespace):
    from sm_pipelines.config.loader import load_definitions

    return load_definitions(Path(args.definitions))


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def cmd_build(args: argparse.Namespace) -> int:
    from sm_pipelines.build import build

    definitions = _definitions(args)
    for env in args.env or []:
        definitions.environment(env)
    changes = build(definitions, args.env or None, check=args.check)
    bad = [c for c in changes if c.state in ("stale", "missing", "orphaned")]
    for change in changes:
        if change.state != "unchanged" or args.verbose:
            print(f"{change.state:>9}  {_relative(change.path)}")
    if args.check:
        if bad:
            print(
                f"error: {len(bad)} compiled definition(s) out of date; run `make build` and "
                "commit definitions/compiled/",
                file=sys.stderr,
            )
            return EXIT_STALE
        print(f"ok: {len(changes)} compiled definition(s) match the YAML and components/")
    else:
        written = sum(c.state in ("written", "removed") for c in changes)
        print(f"built {len(changes)} definition(s), {written} changed")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from sm_pipelines.validate import validate_compiled

    definitions = _definitions(args)
    print(
        f"ok: definitions valid ({len(definitions.pipelines)} pipeline(s), "
        f"{len(definitions.environments)} environment(s))"
    )
    results = validate_compiled(definitions.root / "compiled")
    failures = 0
    for path, problems in results.items():
        for problem in problems:
            failures += 1
            print(f"{_relative(path)}: {problem}", file=sys.stderr)
    if failures:
        return 2
    print(f"ok: {len(results)} compiled definition(s) within limits and schema")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from sm_pipelines.deploy import diff

    texts = diff(_definitions(args), args.env, args.pipeline or None)
    for text in texts:
        sys.stdout.write(text)
    if not texts:
        print(f"no differences: {args.env} matches the compiled definitions")
    return 1 if texts else 0


def cmd_upsert(args: argparse.Namespace) -> int:
    from sm_pipelines.deploy import upsert

    code_state, changes = upsert(
        _definitions(args), args.env, args.pipeline or None, args.image_tag
    )
    print(f"code: {code_state}")
    for change in changes:
        detail = f" ({change.detail})" if change.detail else ""
        print(f"{change.name}: {change.state}{detail}")
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    import json

    from sm_pipelines.errors import DefinitionError
    from sm_pipelines.graph import mermaid, replace_readme_block

    path = Path(args.definitions) / "compiled" / args.env / f"{args.pipeline}.json"
    if not path.is_file():
        raise DefinitionError(path, "no compiled definition; run `sm-pipelines build` first")
    graph = mermaid(json.loads(path.read_text(encoding="utf-8")))
    if args.readme:
        readme = Path(args.readme)
        updated = replace_readme_block(readme.read_text(encoding="utf-8"), args.pipeline, graph)
        if updated is None:
            raise DefinitionError(readme, f"no <!-- graph:{args.pipeline}:start --> block")
        readme.write_text(updated, encoding="utf-8")
        print(f"updated the {args.pipeline} graph in {readme}")
    else:
        sys.stdout.write(graph)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sm-pipelines",
        description="LLM Twin pipelines on native Amazon SageMaker Pipelines.",
    )
    parser.add_argument(
        "--definitions",
        default=os.environ.get("SM_PIPELINES_DEFINITIONS", DEFAULT_DEFINITIONS),
        help="definitions folder (default: ./definitions or $SM_PIPELINES_DEFINITIONS)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str):
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        return command

    build = add(
        "build", cmd_build, "compile pipelines to definitions/compiled/<env>/<pipeline>.json"
    )
    build.add_argument("--env", action="append", help="environment (repeatable; default: all)")
    build.add_argument("--check", action="store_true", help="fail if the committed JSON is stale")
    build.add_argument("-v", "--verbose", action="store_true", help="list unchanged files too")

    add("validate", cmd_validate, "check the YAML and the compiled definitions (limits, schema)")

    diff = add("diff", cmd_diff, "diff the compiled definitions against the deployed pipelines")
    diff.add_argument("--env", required=True, help="environment to compare with")
    diff.add_argument("--pipeline", action="append", help="pipeline (repeatable; default: all)")

    upsert = add("upsert", cmd_upsert, "upload code and create or update the pipelines in AWS")
    upsert.add_argument("--env", required=True, help="environment to deploy to")
    upsert.add_argument("--pipeline", action="append", help="pipeline (repeatable; default: all)")
    upsert.add_argument("--image-tag", help="tag for the ECR images (CD passes the commit SHA)")

    graph = add("graph", cmd_graph, "print a pipeline's DAG as Mermaid")
    graph.add_argument("pipeline", help="pipeline name")
    graph.add_argument("--env", default="local", help="compiled environment (default: local)")
    graph.add_argument("--readme", help="rewrite the graph block of this Markdown file instead")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except UserError as exc:
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
