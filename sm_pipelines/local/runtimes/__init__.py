"""How a training job's image runs it locally: one module per runtime.

Which runtime an image gets is `local/images.py`'s answer. `toolkit` runs script mode through
the sagemaker-training toolkit, as the framework containers do; `xgboost_algorithm` stands in
for the XGBoost built-in algorithm; `remote_function` runs `@step` functions through the SDK's
own remote-function runtime. Each runs its job as a program of its own, inside the job's
sandbox (`toolkit_main.py`, `xgboost_main.py`, the SDK's job driver).
"""
