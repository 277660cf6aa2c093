"""spark-submit entry point: score a date's windows with the pinned champion, write fraud labels.

spark-submit jobs/score.py --conf-file conf/local.yaml --date 2026-11-02
spark-submit jobs/score.py --conf-file conf/local.yaml --date 2026-11-02 --model-version 3
"""

from ubsd.cli import Flag, run_job
from ubsd.scoring import run_scoring

FLAGS = [
    Flag("--alias", "scoring.model_alias", "registry alias to score with (default: champion)"),
    Flag("--model-version", "scoring.model_version", "exact registered version (wins)"),
]


def main(argv: list[str] | None = None) -> int:
    return run_job(
        "score",
        run_scoring,
        "Score windows with the registered model (champion by default); labels + reasons.",
        argv=argv,
        flags=FLAGS,
    )


if __name__ == "__main__":
    raise SystemExit(main())
