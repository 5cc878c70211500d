"""Everything that calls AWS (boto3): bootstrap (the account-level stack, through change sets),
upload and upsert, diff, the wiring around the pipelines (Lambda steps' functions, the
EventBridge role, SNS topics, rules, bucket notifications) and teardown. Everything upsert
creates carries the sm-pipelines tags, which is how a second run finds it and teardown removes
only it; the bootstrap stack's resources do not (CloudFormation owns them, and teardown leaves
them to `--include-bootstrap`). Nothing below this layer imports boto3."""
