"""EventBridge without boto3: the event shapes SageMaker sends (`shapes`), pattern matching and
input transformers as EventBridge does them (`patterns`), and the rules an environment needs
(`rules`). The AWS side applies the rules; the local executor routes its events through them."""
