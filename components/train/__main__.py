"""Training job: LoRA fine-tuning of the base model on the train channel, then DPO on the
preferences channel's pairs when there are enough (components.train.dpo).

Script mode: SageMaker (and the local executor) run this file with the hyperparameters as
`--key value` arguments, which are ignored here because SM_HPS / hyperparameters.json carry the
same values with their types. The model (merged, or a LoRA adapter plus a reference to its base)
goes to SM_MODEL_DIR with the tokenizer and training_report.json; checkpoints go to
/opt/ml/checkpoints, which SageMaker syncs with the step's checkpoint S3 URI for spot resumes.
"""

from __future__ import annotations

import os
import sys

from components.common import artifacts, base_model, hf_env
from components.common.contract import hyperparameters, ml_root, model_dir, training_channel
from components.common.instruction_data import read_examples
from components.common.job import run_job
from components.train.config import TrainConfig


def main() -> int:
    config = TrainConfig.from_hyperparameters(hyperparameters())
    examples = read_examples(training_channel("train"), "train")
    hf_env.configure(offline=not hf_env.needs_hub(os.environ.get("BASE_MODEL_ID")))
    base = base_model.resolve()
    # A merged model is what a serving container loads directly; locally, packing ~0.5 GB of
    # float32 weights into model.tar.gz costs minutes, so the adapter (~10 MB) is saved instead.
    merge = config.merge == "true" or (config.merge == "auto" and artifacts.local_state() is None)
    print(
        f"train: {len(examples)} rows, base {base.name} ({base.source}), "
        f"max_steps {config.max_steps}, epochs {config.epochs:g}, "
        f"learning_rate {config.learning_rate:g}, lora_rank {config.lora_rank}",
        flush=True,
    )
    from components.train import dpo, sft

    pairs, bad = dpo.read_pairs(training_channel("preferences"))
    report = sft.train(
        config, examples, base, model_dir(), ml_root() / "checkpoints", merge, pairs, bad
    )
    print(
        f"train: {report['steps']} steps in {report['train_seconds']:.1f} s; loss on "
        f"{report['probe_rows']} fixed rows {report['probe_loss_before']:.4f} -> "
        f"{report['probe_loss_after']:.4f}; saved the {report['saved']} model",
        flush=True,
    )
    preference = report["preference"]
    if preference["ran"]:
        print(
            f"train: preference stage (DPO) on {preference['pairs']} pair(s), "
            f"{preference['steps']} steps; DPO loss {preference['loss_before']:.4f} -> "
            f"{preference['loss_after']:.4f}",
            flush=True,
        )
    else:
        print(f"train: preference stage skipped: {preference['reason']}", flush=True)
    # Read by the training job's metric definitions (llm-twin-ct.yaml): the run's summary and
    # Studio show how many pairs the model learnt from without opening training_report.json.
    print(
        f"train: preference pairs used: {preference['pairs'] if preference['ran'] else 0}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_job("train", main))
