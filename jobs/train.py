"""spark-submit entry point: pretrain and fine-tune on a date range, register the challenger.

spark-submit jobs/train.py --conf-file conf/local.yaml --start 2026-11-01 --end 2026-11-07
"""

from ubsd.cli import Flag, run_job
from ubsd.pipeline.train import run_train

if __name__ == "__main__":
    raise SystemExit(
        run_job(
            "train",
            run_train,
            "Masked-event pretraining, fraud fine-tuning, MLflow registration (challenger).",
            flags=[
                Flag("--mode", "training.finetune_mode", "full, lora or none (pretrain only)"),
                Flag("--size", "model.size", "tiny, small or base"),
                Flag("--num-processes", "training.num_processes", "train with N DDP processes"),
            ],
        )
    )
