"""Everything that calls AWS (boto3): upload and upsert, diff, the wiring around the pipelines
(Lambda steps' functions, the EventBridge role, SNS topics, rules, bucket notifications) and
teardown. Everything created carries the sm-pipelines tags, which is how a second run finds it
and teardown removes only it. Nothing below this layer imports boto3."""
