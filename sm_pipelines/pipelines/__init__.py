"""Builders from definitions to native sagemaker.workflow pipelines.

Importing this package quiets the SDK's import-time chatter (the v2 deprecation banner and the
"Not applying SDK defaults" lines), which would otherwise bury the CLI's own output.
"""

import logging
import os

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
