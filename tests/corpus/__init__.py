"""The SDK corpus: definitions built by the real SageMaker SDK, run by `sm-pipelines run --local
--definition FILE.json` as a user runs them, each with an observable check.

One module per definition. A module exposes:

- `build(session) -> Pipeline`: the pipeline, built with the SDK's own classes inside an offline
  `PipelineSession` (no AWS, no network);
- `SCRIPTS` (optional): tiny job scripts, name -> text, staged at `s3://corpus/p/code/<name>` in the
  run's local S3 (where a user stages their own inputs);
- `prepare(case)` (optional): anything else the run needs (S3 objects, a Lambda handler file);
- `drive(case) -> Run` (optional): the commands to run; by default `case.run(*PARAMS)`;
- `expect(run)`: what must be observable afterwards (the branch taken, a file's content, a
  registry field, the failure line, attempts);
- `XFAIL` (optional): the reason, when the executor is known to get this one wrong.

`tests/test_corpus.py` discovers every module here that does not start with `_`, so adding a
file adds a case. Shared helpers live in `tests/corpus/_kit.py`.
"""
