"""spark-submit entry point: a label-free run on your own clickstream (no fine-tuned model).

Ingest through the configured source adapter, sessionize, pretrain, score with the zero-label
score (alert budget: training.alert_rate), and report the most anomalous sessions:

spark-submit jobs/unsupervised.py --conf-file conf/talkingdata.yaml \
    --start 2017-11-06 --end 2017-11-09
"""

from ubsd.cli import Flag, run_job
from ubsd.pipeline.unsupervised import run_unsupervised

FLAGS = [
    Flag("--size", "model.size", "tiny, small or base"),
    Flag("--alert-rate", "training.alert_rate", "share of windows flagged (alert budget)"),
    Flag("--top", "evaluation.top_sessions", "sessions listed in the report"),
]

if __name__ == "__main__":
    raise SystemExit(
        run_job(
            "unsupervised",
            run_unsupervised,
            "Label-free run: ingest, sessionize, pretrain, zero-label scoring, anomaly report.",
            flags=FLAGS,
        )
    )
