"""Release job of llm-twin-deploy: deploy what approval names, smoke-test it, roll back."""
