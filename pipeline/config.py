"""One settings object for every part of ClaimWatch.

Values come, highest priority first, from: keyword arguments, ``CLAIMWATCH_*`` environment
variables, the TOML file named by ``CLAIMWATCH_CONFIG`` (or ``./claimwatch.toml`` when present),
and the defaults below. The defaults need no servers: an embedded warehouse (chdb) under
``data_dir`` and an embedded broker (tansu) started on demand.
"""

from __future__ import annotations

import ipaddress
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from pipeline.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LEXICON_DIR = PROJECT_ROOT / "lexicons"  # the lexicons and rules this checkout ships
CONFIG_ENV = "CLAIMWATCH_CONFIG"
LOCAL_CONFIG = Path("claimwatch.toml")


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "claimwatch"


class Settings(BaseSettings):
    """ClaimWatch settings. Every field is documented in docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="CLAIMWATCH_", extra="forbid", frozen=True)

    data_dir: Path = Field(default_factory=_default_data_dir, description="Where embedded state lives.")
    timezone: str = Field("Asia/Shanghai", description="Time zone for display and for periods.")

    # Warehouse
    warehouse: Literal["embedded", "server"] = Field(
        "embedded", description="`embedded` (chdb in data_dir) or `server` (clickhouse-server)."
    )
    clickhouse_host: str = Field("127.0.0.1", description="clickhouse-server host (native protocol).")
    clickhouse_port: int = Field(9000, description="clickhouse-server native TCP port.")
    clickhouse_alt_hosts: str = Field(
        "",
        description=(
            "Other servers to fail over to (`host:port,host:port`), tried in order when "
            "clickhouse_host does not answer: on a cluster, nodes that hold the same tables."
        ),
    )
    clickhouse_user: str = Field("default", description="clickhouse-server user.")
    clickhouse_password: SecretStr = Field(SecretStr(""), description="clickhouse-server password.")
    clickhouse_database: str = Field("claimwatch", description="Database that holds ClaimWatch's tables.")
    clickhouse_cluster: str = Field(
        "",
        description=(
            "Server warehouse on a ClickHouse cluster: its name in the servers' remote_servers "
            "(sharded Distributed tables over replicated ones, docs/scaling.md); empty: one server."
        ),
    )
    clickhouse_connect_timeout_s: float = Field(5.0, description="Connect timeout per attempt.")
    clickhouse_pool_size: int = Field(
        4, ge=1, le=64, description="Connections a server store opens at most (queries run at once)."
    )
    warehouse_retries: int = Field(5, ge=0, description="Retries before a store is declared unavailable.")
    warehouse_backoff_s: float = Field(0.5, ge=0, description="First retry delay; doubles per retry.")
    retention_days: int = Field(1095, ge=1095, description="How long evidence is kept (at least 3 years).")

    # Broker
    broker_url: str = Field(
        "", description="Kafka bootstrap servers (`host:port,...`); empty starts the embedded broker."
    )
    topic_partitions: int = Field(8, ge=1, description="Partitions of the stream-keyed topics.")
    broker_session_timeout_s: float = Field(
        30.0, gt=1.0, description="Consumer-group session timeout (a dead worker's partitions move after it)."
    )
    broker_delivery_timeout_s: float = Field(
        120.0, ge=1.0, description="How long a published record may go unacknowledged, retries included."
    )

    # Worker
    transcribe_batch_pieces: int = Field(16, ge=1, description="Speech pieces decoded together at most.")
    sink_batch_rows: int = Field(1000, ge=1, description="Rows per warehouse insert at most.")
    sink_flush_s: float = Field(0.5, gt=0, description="Longest a row waits before it is written.")

    # Speech
    asr_model: str = Field("whisper-base", description="Manifest name, CTranslate2 directory or model name.")
    asr_device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Inference device.")
    asr_compute_type: str = Field(
        "auto", description="CTranslate2 compute type (auto: float16 on CUDA, int8 on CPU)."
    )
    asr_threads: int = Field(0, ge=0, description="CPU threads for inference (0: all cores).")

    # Live sources (ingest of a URL)
    live_stall_timeout_s: float = Field(
        10.0, gt=0, description="How long a live source may send nothing before it is reconnected."
    )
    live_give_up_s: float = Field(
        300.0, gt=0, description="How long a dropped live source may stay gone before its stream is ended."
    )

    # Alerts
    alerts_file: Path | None = Field(None, description="YAML file mapping each MCN to its webhooks.")

    # Claims
    lexicon_dir: Path = Field(LEXICON_DIR, description="Directory of lexicon YAML files.")

    # Scores, console, evidence
    scoring_file: Path = Field(
        LEXICON_DIR / "scoring.yaml", description="Score weights and grade bands (YAML)."
    )
    console_host: str = Field("127.0.0.1", description="Address `claimwatch serve` listens on.")
    console_port: int = Field(8008, ge=0, le=65535, description="Port `claimwatch serve` listens on.")
    console_session_hours: float = Field(12.0, gt=0, description="How long a console login lasts.")
    console_session_idle_s: float = Field(
        1800.0, gt=0, description="A console session unused this long ends (idle timeout)."
    )
    console_max_sessions: int = Field(
        5, ge=1, description="Sessions one user may hold at once; a new login ends the oldest."
    )
    console_login_attempts: int = Field(
        5, ge=1, description="Failed logins allowed per (account, client address) per window."
    )
    console_login_window_s: float = Field(300.0, gt=0, description="Window of the login rate limit.")
    console_trusted_proxies: str = Field(
        "", description="Proxies (addresses or networks, comma separated) whose X-Forwarded-For is believed."
    )
    console_password_min_length: int = Field(
        12, ge=8, le=64, description="Shortest console password accepted (in characters)."
    )
    console_audit_refusals_per_min: int = Field(
        20, ge=1, description="Audited refusals (403, 404, 429) per actor and kind per minute at most."
    )
    console_cookie_secure: bool = Field(False, description="Send the session cookie over HTTPS only.")
    console_sse_interval_s: float = Field(2.0, gt=0, description="How often live pages poll for news.")
    console_wall_window_s: float = Field(
        600.0, gt=0, description="Live wall: the recent window whose hits each room counts by severity."
    )
    console_wall_stall_s: float = Field(
        60.0, gt=0, description="Live wall: a room with no speech stored for this long is stalled."
    )
    console_wall_end_s: float = Field(
        600.0, gt=0, description="Live wall: a room with no speech for this long counts as ended."
    )
    console_wall_keep_s: float = Field(
        1800.0, ge=0, description="Live wall: how long an ended room stays on the wall."
    )
    console_overview_cache_s: float = Field(
        20.0,
        ge=0,
        description="How long the overview's panels and a violation's case are kept (0: not).",
    )
    console_exports_at_once: int = Field(
        1,
        ge=1,
        le=16,
        description="Evidence bundles the console builds at once (at a lower CPU priority); more wait.",
    )
    console_session_cache_s: float = Field(
        60.0,
        ge=0,
        description=(
            "Embedded warehouse: how long a checked session is kept in memory (0: not); a logout, "
            "a disabled account or a new password or role drops it at once."
        ),
    )
    evidence_key_file: Path | None = Field(
        None, description="Ed25519 signing key (PEM); default data_dir/keys/evidence-ed25519.pem."
    )
    evidence_trusted_keys_file: Path | None = Field(
        None, description="Pinned evidence signing key ids an `evidence verify` trusts (one per line)."
    )
    evidence_context_s: float = Field(30.0, ge=0, description="Transcript kept around a violation.")
    clip_padding_s: float = Field(
        2.0, ge=0, le=60, description="Audio kept before and after a violation's sentence in its clip."
    )

    # Input limits (external input beyond them is refused with an error naming the limit)
    listing_max_line_bytes: int = Field(1 << 20, ge=1024, description="Longest listing-event JSON line.")
    ledger_max_bytes: int = Field(64 << 20, ge=1024, description="Largest ledger file accepted.")
    ledger_max_rows: int = Field(100_000, ge=1, description="Most rows of one ledger file.")
    audio_chunk_max_s: float = Field(30.0, gt=0, description="Longest speech piece a worker accepts.")
    console_max_body_bytes: int = Field(1 << 20, ge=1024, description="Largest console request body.")
    console_max_upload_bytes: int = Field(
        64 << 20, ge=1024, description="Largest evidence bundle uploaded to the console for verification."
    )
    console_max_attachment_bytes: int = Field(
        5 << 20, ge=1024, description="Largest attachment of an appeal or rectification (PDF, PNG, JPEG)."
    )

    @field_validator("clickhouse_alt_hosts")
    @classmethod
    def _alt_hosts(cls, value: str) -> str:
        parse_hosts(value)  # ValueError: pydantic reports it with the setting's name
        return value

    @field_validator("console_trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        for part in value.replace(",", " ").split():
            ipaddress.ip_network(part, strict=False)  # ValueError: the setting is named in the error
        return value

    @field_validator("console_wall_end_s")
    @classmethod
    def _wall_end(cls, value: float, info: ValidationInfo) -> float:
        stall = info.data.get("console_wall_stall_s")
        if stall is not None and value <= stall:
            raise ValueError(f"must be longer than console_wall_stall_s ({stall:g} s)")
        return value

    @cached_property
    def model_cache_dir(self) -> Path:
        """Where assembled speech models are cached."""
        return self.data_dir / "models"

    @cached_property
    def audio_dir(self) -> Path:
        """Where ingest archives each stream's audio (evidence clips are cut from it)."""
        return self.data_dir / "audio"

    @cached_property
    def warehouse_dir(self) -> Path:
        """Where the embedded warehouse keeps its data."""
        return self.data_dir / "warehouse"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


def _config_file() -> Path | None:
    named = os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV}={named}: no such file")
        return path
    return LOCAL_CONFIG if LOCAL_CONFIG.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning validation errors into one readable ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None


def parse_hosts(text: str) -> list[tuple[str, int]]:
    """``host:port,host:port`` as pairs (a bare host means port 9000); ValueError names a bad one."""
    hosts = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        host, colon, port = item.rpartition(":")
        if not colon:
            host, port = item, "9000"
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"not a host:port: {item!r} (expected e.g. ch-2:9000)")
        hosts.append((host, int(port)))
    return hosts
