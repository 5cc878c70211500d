"""Code that runs inside the SageMaker jobs (and locally). Never imports sm_pipelines."""
