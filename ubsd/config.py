"""The one typed configuration model: defaults here, YAML under ``conf/`` overrides them, CLI
``--set key.path=value`` overrides YAML. Unknown keys are errors, never ignored.

>>> cfg = load_config(None, overrides=["sessionize.window_length=128"])
>>> cfg.sessionize.window_length, cfg.sessionize.window_stride
(128, 32)
>>> cfg.storage.format
'delta'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SparkSettings(_Strict):
    """How the one SparkSession factory builds sessions."""

    master: str | None = Field(
        "local[2]",
        description="Spark master for local runs; null on a cluster takes what spark-submit gives.",
    )
    app_name: str = Field("ubsd", description="Application name shown in the Spark UI.")
    shuffle_partitions: int = Field(4, ge=1, description="spark.sql.shuffle.partitions (local).")
    driver_memory: str | None = Field(None, description="spark.driver.memory for local runs.")
    ivy_dir: str | None = Field(
        None, description="Ivy cache for the Delta jars (spark.jars.ivy); null = Spark default."
    )
    log_level: str = Field("WARN", description="Spark log level (WARN keeps job output readable).")
    conf: dict[str, str] = Field(
        default_factory=dict, description="Extra Spark settings passed to the builder as they are."
    )


class StorageSettings(_Strict):
    """Where tables live and in which format."""

    root: str = Field("./data", description="Root folder or URI under which every table lives.")
    format: Literal["delta", "parquet"] = Field(
        "delta", description="Table format; parquet is a fallback without atomic replaces."
    )
    input_path: str = Field(
        "raw/date={date}",
        description="Raw input, relative to root (or absolute); {date} is replaced per run date.",
    )
    labels_path: str | None = Field(
        None, description="Optional ground-truth labels (Parquet, LABELS_SCHEMA), relative to root."
    )
    events_table: str = Field("tables/events", description="Events table (output of ingest).")
    quarantine_table: str = Field(
        "tables/quarantine", description="Quarantined rows with reason (output of ingest)."
    )
    windows_table: str = Field(
        "tables/windows", description="Windows table (output of sessionize)."
    )
    runs_dir: str = Field("runs", description="Run summaries (JSON), relative to root.")
    fraud_labels_table: str = Field(
        "tables/fraud_labels", description="Scored windows with reasons (output of scoring)."
    )
    user_daily_table: str = Field(
        "tables/user_daily", description="Per-user daily rollup of the fraud labels (scoring)."
    )


class IngestSettings(_Strict):
    """Validation and normalization rules of the ingest job."""

    input_format: Literal["json", "csv", "parquet"] = Field(
        "json", description="Raw input format: JSON lines, CSV with a header, or Parquet."
    )
    missing_input: Literal["fail", "empty"] = Field(
        "fail", description="What a run date without input does: fail, or write an empty day."
    )
    min_timestamp: str = Field("2000-01-01", description="Events before this are out of range.")
    future_skew_hours: float = Field(
        24.0, ge=0, description="Events later than the run's last date + this are 'in the future'."
    )
    naive_timestamps: Literal["utc", "reject"] = Field(
        "utc", description="Timestamps without a zone are read as UTC, or quarantined."
    )
    allow_unknown_event_types: bool = Field(
        True, description="Accept event types outside the contract's list (the vocabulary is open)."
    )
    max_field_chars: int = Field(4096, ge=16, description="Longer text fields are quarantined.")
    max_quarantine_rate: float = Field(
        0.2, ge=0, le=1, description="The run fails, with the numbers, above this quarantine rate."
    )
    hash_key_env: str = Field(
        "UBSD_HASH_SECRET", description="Environment variable holding the key for ip/device hashes."
    )
    allow_dev_hash_key: bool = Field(
        False, description="Use a fixed, public development key when the env var is unset (local)."
    )


class SessionizeSettings(_Strict):
    """Session breaks, windows and feature buckets."""

    gap_minutes: float = Field(30.0, gt=0, description="Inactivity gap that breaks a session.")
    max_session_minutes: float = Field(
        240.0, gt=0, description="Sessions are cut into chunks of at most this duration."
    )
    max_session_events: int = Field(
        10_000, ge=1, description="Sessions are cut into chunks of at most this many events."
    )
    lookback_hours: float = Field(
        24.0, ge=0, description="How far into the previous date a run looks to stitch sessions."
    )
    window_length: int = Field(
        64, ge=2, description="Events per window (L); shorter ones are padded."
    )
    window_stride: int = Field(32, ge=1, description="Events between window starts (S <= L).")
    item_buckets: int = Field(1024, ge=2, description="Hash buckets for item ids.")
    category_buckets: int = Field(128, ge=2, description="Hash buckets for category ids.")
    dt_buckets: int = Field(32, ge=2, description="Log-scaled buckets for inter-event seconds.")
    price_buckets: int = Field(24, ge=2, description="Log-scaled buckets for prices.")
    position_buckets: int = Field(24, ge=2, description="Result positions 1..n-1, the rest in n.")

    @model_validator(mode="after")
    def _stride_fits(self) -> SessionizeSettings:
        if self.window_stride > self.window_length:
            raise ValueError("sessionize.window_stride must not exceed window_length")
        return self


SourceKind = Literal["contract", "talkingdata", "taobao", "diginetica", "weblog", "mapped"]


class SourceSettings(_Strict):
    """Which source adapter maps the raw input into the event contract (see docs/sources.md)."""

    kind: SourceKind = Field(
        "contract",
        description="Input format: the event contract itself, or a source adapter run in ingest.",
    )
    input_path: str | None = Field(
        None,
        description="Read instead of storage.input_path; relative to the working directory, "
        "may lie outside storage.root (read only). Without {date}: one input spanning many dates.",
    )
    talkingdata_user_key: list[Literal["ip", "app", "device", "os", "channel"]] = Field(
        default_factory=lambda: ["ip", "device", "os"],
        min_length=1,
        description="TalkingData: columns whose values form the user key (hashed when it has ip).",
    )
    talkingdata_label: Literal["attributed", "not_attributed"] = Field(
        "attributed",
        description="TalkingData: which is_attributed value is the positive label (labels only).",
    )
    weblog_static: Literal["fold", "keep"] = Field(
        "fold", description="Web logs: static asset requests are filtered (fold) or kept as events."
    )
    weblog_static_extensions: list[str] = Field(
        default_factory=lambda: [
            *("css", "js", "map", "png", "jpg", "jpeg", "gif", "svg", "ico", "webp"),
            *("woff", "woff2", "ttf", "eot"),
        ],
        description="Web logs: path extensions (lower case, no dot) that mark a static asset.",
    )
    weblog_session_cookie: str = Field(
        "session",
        description="Web logs: cookie whose value is the user key, from the log's cookie field.",
    )
    weblog_search_paths: list[str] = Field(
        default_factory=lambda: ["/search"],
        description="Web logs: paths whose GET with a query parameter is a search.",
    )
    weblog_query_params: list[str] = Field(
        default_factory=lambda: ["q", "query", "search", "s"],
        description="Web logs: query-string parameters holding the search text, first found wins.",
    )
    weblog_api_prefixes: list[str] = Field(
        default_factory=lambda: ["/api/"],
        description="Web logs: path prefixes of API calls (any non-GET/HEAD request is one too).",
    )
    mapping_file: str | None = Field(
        None, description="Mapped sources: YAML column mapping (see conf/mappings/), from cwd."
    )

    @model_validator(mode="after")
    def _mapping_given(self) -> SourceSettings:
        if self.kind == "mapped" and not self.mapping_file:
            raise ValueError("source.kind: mapped needs source.mapping_file")
        return self


class ModelSettings(_Strict):
    """The behavior-sequence transformer's shape."""

    size: Literal["tiny", "small", "base"] = Field(
        "small", description="tiny (2x64, CI), small (4x256, default), base (8x512, GPU)."
    )
    head: Literal["mlp", "gru"] = Field(
        "mlp", description="Fraud head: masked-mean pooling + MLP, or a GRU over the encoder."
    )
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout in encoder and heads.")
    zero_label_passes: int = Field(
        2, ge=1, le=16, description="Interleaved maskings for the zero-label score (cost x n)."
    )


class TrainingSettings(_Strict):
    """Pretraining, fine-tuning, stopping rules and augmentation."""

    finetune_mode: Literal["full", "lora", "none"] = Field(
        "full", description="Fine-tune all weights, LoRA adapters (peft), or pretrain only."
    )
    lora_r: int = Field(8, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(16, ge=1, description="LoRA scaling alpha.")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout.")
    batch_size: int = Field(64, ge=1, description="Windows per training step.")
    mask_prob: float = Field(
        0.25, gt=0, lt=1, description="Share of events masked in pretraining (at least one)."
    )
    pretrain_lr: float = Field(5e-4, gt=0, description="AdamW learning rate for pretraining.")
    finetune_lr: float = Field(2e-4, gt=0, description="AdamW learning rate for fine-tuning.")
    max_pretrain_steps: int = Field(3000, ge=0, description="Step cap of pretraining.")
    max_finetune_steps: int = Field(1500, ge=0, description="Step cap of fine-tuning.")
    max_minutes: float = Field(
        30.0, gt=0, description="Wall-clock cap of each phase (pretrain, fine-tune) in minutes."
    )
    eval_every: int = Field(100, ge=1, description="Steps between validation evaluations.")
    patience: int = Field(
        5, ge=1, description="Stop after this many evaluations without validation improvement."
    )
    min_delta: float = Field(
        1e-3, ge=0, description="Smallest validation change that counts as an improvement."
    )
    val_windows: int = Field(
        4000, ge=10, description="Validation windows used during training (sampled, fixed)."
    )
    class_weighting: bool = Field(
        True, description="Weight positives by negatives/positives (capped) in the loss."
    )
    max_pos_weight: float = Field(50.0, ge=1, description="Cap of the positive class weight.")
    aug_event_mask: float = Field(
        0.0, ge=0, lt=1, description="Fine-tuning augmentation: share of events masked."
    )
    aug_crop: bool = Field(False, description="Augmentation: random contiguous crops.")
    aug_time_jitter: float = Field(
        0.0, ge=0, le=1, description="Augmentation: share of time-delta buckets moved by +-1."
    )
    aug_inject: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Augmentation: share of normal windows given a spliced attack span "
        "(taken from labelled training attacks), labelled positive.",
    )
    target_precision: float = Field(
        0.9, gt=0, le=1, description="Threshold: lowest score reaching this validation precision."
    )
    alert_rate: float = Field(
        0.01, gt=0, le=1, description="Zero-label threshold: share of windows flagged (budget)."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: the GPU when one is visible (bf16 autocast), else CPU."
    )
    num_processes: int = Field(
        1, ge=1, description="> 1: train through TorchDistributor (DDP) on this many processes."
    )
    seed: int = Field(0, description="Seed of sampling, masking and initialisation.")
    models_dir: str = Field("models", description="Where trained model directories go (root).")


class MlflowSettings(_Strict):
    """Tracking and registry."""

    tracking_uri: str = Field(
        "sqlite:///{root}/mlflow.db",
        description="Tracking/registry URI; {root} = storage.root. The env var below wins.",
    )
    tracking_uri_env: str = Field(
        "MLFLOW_TRACKING_URI", description="Environment variable that overrides tracking_uri."
    )
    artifact_location: str = Field(
        "{root}/mlartifacts", description="Artifact root of a new experiment (local default)."
    )
    experiment: str = Field("ubsd", description="Experiment name.")
    registered_model: str = Field("ubsd-behavior", description="Registered model name.")
    champion_alias: str = Field("champion", description="Alias of the serving model.")
    challenger_alias: str = Field("challenger", description="Alias given to new versions.")


class PromotionSettings(_Strict):
    """The gate that moves the champion alias."""

    min_pr_auc_gain: float = Field(
        0.0, description="Challenger PR-AUC must beat the champion's by more than this."
    )
    max_type_recall_drop: float = Field(
        0.05, ge=0, le=1, description="No fraud type's recall may drop by more than this."
    )
    floor_pr_auc: float = Field(0.5, ge=0, le=1, description="First model: minimum PR-AUC.")
    floor_roc_auc: float = Field(0.8, ge=0, le=1, description="First model: minimum ROC-AUC.")
    records_dir: str = Field("promotions", description="JSON decision records (under root).")


class EvaluationSettings(_Strict):
    """Splits and report settings shared by training, evaluation and promotion."""

    train_date_fraction: float = Field(
        0.6, gt=0, lt=1, description="First share of a range's dates used for training."
    )
    validation_user_fraction: float = Field(
        0.2, ge=0, lt=1, description="Users hashed to validation (evaluation dates only)."
    )
    test_user_fraction: float = Field(
        0.3, gt=0, lt=1, description="Users hashed to test (evaluation dates only)."
    )
    split_seed: int = Field(0, description="Key of the user hash that assigns split sides.")
    max_test_windows: int = Field(
        200_000, ge=10, description="Cap on held-out windows held in memory (sampled)."
    )
    max_fpr: float = Field(0.01, gt=0, lt=1, description="FPR budget of the recall@FPR metric.")
    report_dir: str = Field("reports/eval", description="Evaluation report folder (root).")
    unsupervised_report_dir: str = Field(
        "reports/unsupervised",
        description="Label-free run reports (jobs/unsupervised.py) go to <root>/<this>/<dates>/.",
    )
    top_sessions: int = Field(
        20, ge=1, le=1000, description="Most anomalous sessions listed by the label-free report."
    )


class ScoringSettings(_Strict):
    """Nightly scoring: which model, batch sizes, precision, and the reasons step."""

    model_alias: str | None = Field(
        None, description="Registry alias to score with; null = mlflow.champion_alias."
    )
    model_version: int | None = Field(
        None, ge=1, description="Exact registered version to score with (wins over the alias)."
    )
    batch_size: int = Field(
        256,
        ge=1,
        description="Windows per model forward; each Arrow batch is grouped by window length "
        "into forwards of this size, cut after the longest window's last event.",
    )
    arrow_batch_size: int = Field(
        2048, ge=1, description="spark.sql.execution.arrow.maxRecordsPerBatch during scoring."
    )
    partitions: int | None = Field(
        None,
        ge=1,
        description="Scoring tasks (the day's windows are always shuffled by window_id into "
        "them); null = Spark's default parallelism or the day's input partitions, if more.",
    )
    precision: Literal["fp32", "bf16", "int8"] = Field(
        "fp32",
        description="CPU inference: fp32, bf16 autocast (CPUs with bf16), or int8 dynamic "
        "quantization through torchao (must be installed).",
    )
    gpu_precision: Literal["fp32", "bf16", "fp16"] = Field(
        "bf16", description="Autocast dtype when a GPU is visible to the Python worker."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: the task's assigned (or the visible) GPU, else CPU."
    )
    torch_threads: int | None = Field(
        None, ge=1, description="Torch threads per task on CPU; null = spark.task.cpus."
    )
    explain_top_k: int = Field(5, ge=1, le=64, description="Events kept as reasons per window.")
    explain_max_windows: int = Field(
        2000, ge=0, description="Flagged windows explained per day (highest scores first)."
    )
    explain_method: Literal["grad_x_input", "integrated_gradients"] = Field(
        "grad_x_input",
        description="Attribution over the summed event embeddings (captum): one backward "
        "pass, or integrated gradients with explain_steps steps.",
    )
    explain_steps: int = Field(
        8, ge=2, le=64, description="Integrated-gradients steps (cost ~ steps x a backward pass)."
    )
    explain_batch_size: int = Field(64, ge=1, description="Windows per attribution batch.")


class MonitorSettings(_Strict):
    """Daily drift and data-quality monitoring of the scored date (jobs/monitor.py)."""

    metrics_table: str = Field(
        "tables/monitor_metrics", description="Daily metrics table (MONITOR_METRICS_SCHEMA)."
    )
    report_dir: str = Field(
        "reports/monitor", description="PNG/HTML reports go to <root>/<report_dir>/<date>/."
    )
    psi_alert: float = Field(
        0.2, gt=0, description="PSI above this alerts (score and input distributions)."
    )
    psi_warn: float = Field(
        0.1, ge=0, description="PSI above this is reported as a moderate shift (no alert)."
    )
    bins: int = Field(
        20, ge=2, le=100, description="Quantile bins of the trailing input references (PSI)."
    )
    trailing_days: int = Field(
        7, ge=1, description="Days before the date that form the flagged-rate and input reference."
    )
    flagged_rate_ratio: float = Field(
        2.0,
        gt=1,
        description="Alert when the flagged rate is above ratio x or below 1/ratio x "
        "its trailing average (first days: the model's validation rate).",
    )
    flagged_rate_min_change: float = Field(
        0.002, ge=0, description="The flagged-rate alert also needs this absolute difference."
    )
    quarantine_rate_alert: float = Field(
        0.05, ge=0, le=1, description="Ingest quarantine rate of the date above this alerts."
    )
    min_rows: int = Field(
        500, ge=1, description="Metrics computed from fewer rows are reported but never alert."
    )
    input_sample_fraction: float = Field(
        1.0, gt=0, le=1, description="Share of windows (by window_id hash) used for input drift."
    )
    empty_day: Literal["warn", "fail"] = Field(
        "warn", description="A date without scored windows: skip its metrics, or fail the run."
    )
    log_to_mlflow: bool = Field(True, description="Log metrics and the report to MLflow.")
    experiment: str | None = Field(
        None, description="MLflow experiment of monitor runs; null = mlflow.experiment."
    )


class Settings(_Strict):
    """Top-level configuration."""

    env: str = Field("local", description="Name of the environment (for run summaries).")
    spark: SparkSettings = SparkSettings()
    storage: StorageSettings = StorageSettings()
    ingest: IngestSettings = IngestSettings()
    sessionize: SessionizeSettings = SessionizeSettings()
    model: ModelSettings = ModelSettings()
    training: TrainingSettings = TrainingSettings()
    mlflow: MlflowSettings = MlflowSettings()
    promotion: PromotionSettings = PromotionSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    source: SourceSettings = SourceSettings()
    scoring: ScoringSettings = ScoringSettings()
    monitor: MonitorSettings = MonitorSettings()


class ConfigError(ValueError):
    """A configuration file or override is invalid."""


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted!r}: {part!r} is not a section")
    node[parts[-1]] = value


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> Settings:
    """Load defaults, then the YAML file (safe loader), then ``key.path=value`` overrides.

    Override values are parsed as YAML scalars (``true``, ``3``, ``null``), never evaluated.
    """
    tree: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        loaded = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: top level must be a mapping")
        tree = _deep_merge(tree, loaded)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        key, raw = item.split("=", 1)
        _set_path(tree, key.strip(), yaml.safe_load(raw) if raw.strip() else "")
    try:
        return Settings.model_validate(tree)
    except ValidationError as exc:
        where = f" in {path}" if path else ""
        raise ConfigError(f"invalid configuration{where}:\n{exc}") from None


def reference_markdown() -> str:
    """Markdown table of every configuration key, its default and its meaning.

    ``docs/configuration.md`` embeds this output; a test keeps the two in step.
    """
    lines: list[str] = []
    for section, field in Settings.model_fields.items():
        model = field.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            lines += [f"| `{section}` | `{field.default!r}` | {field.description or ''} |"]
            continue
        lines += ["", f"### `{section}`", "", (model.__doc__ or "").strip(), ""]
        lines += ["| key | default | meaning |", "|---|---|---|"]
        for name, sub in model.model_fields.items():
            default = sub.default if sub.default_factory is None else sub.default_factory()
            lines.append(f"| `{section}.{name}` | `{default!r}` | {sub.description or ''} |")
    return "\n".join(lines).strip() + "\n"


if __name__ == "__main__":
    print(reference_markdown(), end="")
