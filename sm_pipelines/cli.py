"""The `sm-pipelines` command line. Parsing only: each command imports its module when it runs,
so `sm-pipelines --help` answers without loading the SageMaker SDK."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sm_pipelines.errors import EXIT_ENVIRONMENT, EXIT_INTERRUPTED, EXIT_STALE, UserError

DEFAULT_DEFINITIONS = "definitions"


def _definitions(args: argparse.Namespace):
    from sm_pipelines.config.loader import load_definitions

    return load_definitions(Path(args.definitions))


def _load_sdk() -> None:
    """The SageMaker SDK, imported with the garbage collector paused (compile/sdk.py)."""
    from sm_pipelines.compile.sdk import load_sdk

    load_sdk()


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def cmd_build(args: argparse.Namespace) -> int:
    _load_sdk()
    from sm_pipelines.compile.build import build

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
    from sm_pipelines.definition.validate import validate_compiled

    definitions = _definitions(args)
    print(
        f"ok: definitions valid ({len(definitions.pipelines)} pipeline(s), "
        f"{len(definitions.environments)} environment(s))"
    )
    results = validate_compiled(definitions.root)
    failures = 0
    for path, problems in results.items():
        for problem in problems:
            failures += 1
            print(f"{_relative(path)}: {problem}", file=sys.stderr)
    if failures:
        return 2
    print(f"ok: {len(results)} compiled definition(s) within limits and schema")
    return 0


def cmd_parity(args: argparse.Namespace) -> int:
    from sm_pipelines.definition.parity import parity_problems

    problems = parity_problems(_definitions(args))
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 2
    print(
        "ok: every step's image provides every module its component imports, and gets every "
        "setting it reads"
    )
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    _load_sdk()
    from sm_pipelines.aws.diff import diff

    _check_image_tag(args.image_tag)
    texts = diff(_definitions(args), args.env, args.pipeline or None, args.image_tag)
    for text in texts:
        sys.stdout.write(text)
    if not texts:
        print(f"no differences: {args.env} matches the compiled definitions")
    return 1 if texts else 0


def _check_image_tag(tag: str | None) -> None:
    from sm_pipelines.config.environment import image_tag_problem

    if tag is not None and (problem := image_tag_problem(tag)):
        raise UserError(problem)


def cmd_upsert(args: argparse.Namespace) -> int:
    _load_sdk()
    from sm_pipelines.aws.upsert import upsert

    _check_image_tag(args.image_tag)
    for change in upsert(_definitions(args), args.env, args.pipeline or None, args.image_tag):
        print(change.line())
    return 0


def cmd_teardown(args: argparse.Namespace) -> int:
    from sm_pipelines.aws.teardown import teardown
    from sm_pipelines.aws.upsert import aws_environment

    env = aws_environment(_definitions(args), args.env)
    if not args.yes:
        stack = " and the bootstrap stack" if args.include_bootstrap else ""
        raise UserError(
            f"teardown deletes every resource sm-pipelines created in {env.name}{stack} "
            f"({env.account_id}/{env.region}); run again with --yes to proceed"
        )
    changes = teardown(env, include_bootstrap=args.include_bootstrap)
    for change in changes:
        print(change.line())
    if not changes:
        print(f"nothing to remove: {env.name} holds no resources tagged by sm-pipelines")
    return 0


def cmd_bootstrap(args: argparse.Namespace) -> int:
    if args.template_only:
        from sm_pipelines.aws.bootstrap import render

        sys.stdout.write(render(_definitions(args), args.env, args.skip_type or ()))
        return 0
    from sm_pipelines.aws.bootstrap import bootstrap

    bootstrap(
        _definitions(args), args.env, lambda line: print(line, flush=True), args.skip_type or ()
    )
    return 0


def cmd_iam(args: argparse.Namespace) -> int:
    import json

    from sm_pipelines.iam.documents import iam_documents

    print(json.dumps(iam_documents(_definitions(args), args.env), indent=2))
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    from sm_pipelines.definition import document
    from sm_pipelines.definition.graph import mermaid, replace_readme_block
    from sm_pipelines.errors import DefinitionError

    path = document.compiled_path(Path(args.definitions), args.env, args.pipeline)
    graph = mermaid(document.read(path).data)
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


def _state(args: argparse.Namespace):
    from sm_pipelines.local.launch import local_settings

    return local_settings(Path(args.definitions), args.state)[0]


def _execution_description(value: str | None) -> str:
    from sm_pipelines import limits

    # PipelineExecutionDescription has the same limit as a pipeline's description.
    if value is None:
        return ""
    if len(value) > limits.DESCRIPTION_MAX:
        raise UserError(
            f"--description: {len(value)} characters; SageMaker allows {limits.DESCRIPTION_MAX}"
        )
    return value


def cmd_run(args: argparse.Namespace) -> int:
    from sm_pipelines.local.launch import (
        parse_params,
        resolve_target,
        run,
        stage_code,
        use_image_envs,
    )

    if not args.local:
        raise UserError(
            "only local runs start from here (add --local); in AWS, executions are started by "
            "the EventBridge schedules or `aws sagemaker start-pipeline-execution`"
        )
    name = args.name or args.pipeline
    selected = tuple(s.strip() for s in (args.steps or "").split(",") if s.strip())
    if bool(args.from_execution) != bool(selected):
        raise UserError("a selective run needs both --from EXECUTION and --steps a,b")
    reference = None
    # A selective run of a reference without a named pipeline runs the reference's own
    # definition and keeps the code that reference ran with.
    from_reference = bool(args.from_execution) and not (name or args.definition)
    if from_reference:
        from sm_pipelines.local.launch import reference_target

        target, reference = reference_target(
            Path(args.definitions), args.state, args.parallel, args.from_execution
        )
        source = f"selective run of {reference.id}"
    else:
        target = resolve_target(
            Path(args.definitions), name, args.definition, args.env, args.state, args.parallel
        )
        if args.from_execution:
            from sm_pipelines.local.execution import load_execution

            reference = load_execution(target.state, args.from_execution)
            if reference.pipeline != target.pipeline:
                raise UserError(
                    f"--from {reference.id} is an execution of {reference.pipeline}, not of "
                    f"{target.pipeline}"
                )
        source = args.definition or f"definitions/compiled/{args.env}/{target.pipeline}.json"
    if not args.definition and not from_reference:
        stage_code(target, Path(args.definitions).resolve().parent)
    use_image_envs(target, Path(args.definitions).resolve().parent, args.images)
    execution = run(
        target,
        parse_params(args.param or []),
        args.quiet,
        source,
        reference,
        selected,
        _execution_description(args.description),
    )
    if not args.quiet:
        print(f"state: {target.state.root}")
    return 0 if execution.status == "Succeeded" else 1


def cmd_image_envs(args: argparse.Namespace) -> int:
    from sm_pipelines.local.image_envs import ensure_all

    ensure_all(Path(args.definitions).resolve().parent, args.image, torch_index=args.torch_index)
    return 0


def cmd_executions(args: argparse.Namespace) -> int:
    from sm_pipelines.local.execution import list_executions

    executions = list_executions(_state(args))
    if not executions:
        print("no local executions yet")
    for execution in executions[: args.limit]:
        print(
            f"{execution.id}  {execution.pipeline:<24} {execution.status:<10} "
            f"{execution.start[:19]}  {execution.seconds():7.1f}s"
        )
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    from sm_pipelines.local.execution import load_execution
    from sm_pipelines.local.progress import summary_table

    execution = load_execution(_state(args), args.execution)
    print(summary_table(execution))
    print("parameters: " + ", ".join(f"{k}={v}" for k, v in execution.parameters.items()))
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from sm_pipelines.local.execution import load_execution

    state = _state(args)
    execution = load_execution(state, args.execution)
    if args.step not in execution.steps:
        known = ", ".join(execution.steps)
        raise UserError(f"execution {args.execution} has no step {args.step!r} (steps: {known})")
    log = state.execution_dir(args.execution) / "logs" / f"{args.step}.log"
    if not log.is_file():
        print(f"{args.step} wrote no log (status {execution.steps[args.step].status})")
        return 0
    sys.stdout.write(log.read_text(encoding="utf-8", errors="replace"))
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    from sm_pipelines.local.launch import local_settings, retry

    state, settings = local_settings(Path(args.definitions), args.state, args.parallel)
    execution = retry(state, args.execution, settings, args.quiet)
    return 0 if execution.status == "Succeeded" else 1


def cmd_callback(args: argparse.Namespace) -> int:
    from sm_pipelines.local.launch import parse_params
    from sm_pipelines.local.steps.callback import send

    status = "Success" if args.outcome == "success" else "Failure"
    outputs = parse_params(args.output or [], flag="--output")
    send(_state(args), args.token, status, outputs, args.reason or "")
    print(f"answered {args.token}: {status}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from sm_pipelines.local.registry import models_table

    if args.decision:
        from sm_pipelines.local.approvals import decide

        if not args.group or args.version is None:
            raise UserError(f"models {args.decision} needs a group and a version number")
        status = "Approved" if args.decision == "approve" else "Rejected"
        return decide(
            Path(args.definitions), args.state, args.group, args.version, status, args.reason
        )
    print(models_table(_state(args)))
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    try:
        from sm_pipelines.ui.serve import serve
    except ModuleNotFoundError as exc:
        raise UserError(
            f"the view needs {exc.name}: install the ui extra (pip install -e '.[ui]'; "
            "make setup does)"
        ) from None
    return serve(Path(args.definitions), args.state, _state(args), args.port, args.host, args.env)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sm-pipelines",
        description="LLM Twin pipelines on native Amazon SageMaker Pipelines.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error, not one line"
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
    add("parity", cmd_parity, "check each AWS step's image provides what its component imports")

    diff = add("diff", cmd_diff, "diff the compiled definitions against the deployed pipelines")
    diff.add_argument("--env", required=True, help="environment to compare with")
    diff.add_argument("--pipeline", action="append", help="pipeline (repeatable; default: all)")
    diff.add_argument("--image-tag", help="compare as upsert --image-tag T would deploy")

    upsert = add("upsert", cmd_upsert, "upload code and create or update the pipelines in AWS")
    upsert.add_argument("--env", required=True, help="environment to deploy to")
    upsert.add_argument("--pipeline", action="append", help="pipeline (repeatable; default: all)")
    upsert.add_argument("--image-tag", help="tag for the ECR images (CD passes the commit SHA)")

    def local_options(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--state", help="local state folder (default: .sm-local or $SM_PIPELINES_STATE)"
        )

    run = add("run", cmd_run, "run a compiled pipeline on this machine (no Docker, no AWS)")
    run.add_argument("pipeline", nargs="?", help="pipeline name (reads compiled/<env>/<name>.json)")
    run.add_argument("--local", action="store_true", help="run with the local executor")
    run.add_argument("--env", default="local", help="compiled environment (default: local)")
    run.add_argument("--definition", help="run this definition JSON file instead")
    run.add_argument(
        "--name", help="the pipeline's name with --definition (PipelineName; default: file name)"
    )
    run.add_argument("--param", action="append", metavar="NAME=VALUE", help="override a parameter")
    run.add_argument(
        "--from",
        dest="from_execution",
        metavar="EXECUTION",
        help="selective run: the reference execution whose outputs the unselected steps keep",
    )
    run.add_argument("--steps", help="selective run: the steps to run again, comma-separated")
    run.add_argument("--parallel", type=int, default=2, help="steps run at once (default: 2)")
    run.add_argument("--quiet", action="store_true", help="no live progress; one final line")
    run.add_argument(
        "--description",
        help="the execution's description (PipelineExecutionDescription), kept in its record",
    )
    run.add_argument(
        "--images",
        action="store_true",
        help="run each job of a project image with exactly that image's packages (its image env)",
    )
    local_options(run)
    image_envs = add(
        "image-envs", cmd_image_envs, "build (or reuse) one virtual environment per image"
    )
    image_envs.add_argument("--image", action="append", help="image (default: containers/*)")
    image_envs.add_argument("--torch-index", help="where torch comes from (default: pip's index)")

    executions = add("executions", cmd_executions, "list local executions, newest first")
    executions.add_argument("--limit", type=int, default=20)
    local_options(executions)
    describe = add("describe", cmd_describe, "show a local execution's steps and parameters")
    describe.add_argument("execution")
    local_options(describe)
    logs = add("logs", cmd_logs, "print a step's logs from a local execution")
    logs.add_argument("execution")
    logs.add_argument("step")
    local_options(logs)
    retry = add("retry", cmd_retry, "resume a failed local execution from its failed steps")
    retry.add_argument("execution")
    retry.add_argument("--parallel", type=int, default=2)
    retry.add_argument("--quiet", action="store_true")
    local_options(retry)
    callback = add(
        "callback", cmd_callback, "answer a waiting local callback step (success or failure)"
    )
    callback.add_argument("outcome", choices=["success", "failure"])
    callback.add_argument("token", help="the token the step posted to <state>/queues/")
    callback.add_argument("--output", action="append", metavar="NAME=VALUE", help="an output")
    callback.add_argument("--reason", help="why it failed")
    local_options(callback)
    models = add(
        "models",
        cmd_models,
        "list the local model registry with metrics and decisions, or approve/reject a version "
        "(which starts llm-twin-deploy through its rules, as in AWS)",
    )
    models.add_argument("decision", nargs="?", choices=["approve", "reject"])
    models.add_argument("group", nargs="?", help="model package group (llm-twin-local)")
    models.add_argument("version", nargs="?", type=int, help="version number")
    models.add_argument("--reason", help="why (recorded as the version's ApprovalDescription)")
    local_options(models)

    ui = add(
        "ui",
        cmd_ui,
        "serve the local pipeline view (pipelines, executions live, models, monitoring) on "
        "127.0.0.1",
    )
    ui.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0: any free)")
    ui.add_argument("--host", default="127.0.0.1", help="127.0.0.1 (the only address served)")
    ui.add_argument("--env", default="local", help="compiled environment shown (default: local)")
    local_options(ui)

    iam = add("iam", cmd_iam, "print least-privilege IAM policies for an environment as JSON")
    iam.add_argument("--env", required=True, help="AWS environment (staging, production...)")

    bootstrap = add(
        "bootstrap",
        cmd_bootstrap,
        "create or update an environment's account-level resources (one CloudFormation stack)",
    )
    bootstrap.add_argument("--env", required=True, help="AWS environment (staging, production...)")
    bootstrap.add_argument(
        "--template-only",
        "--dry-run",
        dest="template_only",
        action="store_true",
        help="print the template (checked by cfn-lint) and change nothing",
    )
    bootstrap.add_argument(
        "--skip-type",
        action="append",
        metavar="AWS::SERVICE::TYPE",
        help="leave out every resource of this type (for emulators such as moto, which cannot "
        "create AWS::IAM::OIDCProvider or AWS::SecretsManager::Secret)",
    )

    teardown = add("teardown", cmd_teardown, "delete what upsert created in an environment")
    teardown.add_argument("--env", required=True, help="environment to clean up")
    teardown.add_argument("--yes", action="store_true", help="confirm the deletion")
    teardown.add_argument(
        "--include-bootstrap",
        action="store_true",
        help="also delete the bootstrap stack (its bucket, key, repositories and secrets stay)",
    )

    graph = add("graph", cmd_graph, "print a pipeline's DAG as Mermaid")
    graph.add_argument("pipeline", help="pipeline name")
    graph.add_argument("--env", default="local", help="compiled environment (default: local)")
    graph.add_argument("--readme", help="rewrite the graph block of this Markdown file instead")
    return parser


def _one_line(text: str) -> str:
    # A lone surrogate (from a file name that is not UTF-8) must not make the error unprintable.
    return " ".join(text.split()).encode("utf-8", "backslashreplace").decode("utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command. Nothing escapes as a traceback unless --debug: a user's mistake is one line
    and exit 2; AWS, the disk or a bug of ours is one line and exit 3."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except UserError as exc:
        if args.debug:
            raise
        for line in str(exc).splitlines():
            print(f"error: {_one_line(line)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        if args.debug:
            raise
        where = _one_line(str(exc.filename)) if exc.filename else "the file system"
        reason = _one_line(exc.strerror or type(exc).__name__)
        print(f"error: {where}: {reason}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"error: internal error: {type(exc).__name__}: {_one_line(str(exc))[:300]} "
            "(run again with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_ENVIRONMENT


if __name__ == "__main__":
    sys.exit(main())
