"""Declarative LLM Twin pipelines compiled to native Amazon SageMaker Pipelines."""

__version__ = "0.1.0"
