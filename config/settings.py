"""Process settings, read from the environment (pydantic-settings), for every process.

The worker, the command line, the API and the codec server read these; workflows never do: they
keep the :class:`domain.settings.WorkflowSettings` snapshot that :meth:`Settings.workflow_settings`
makes (through a local activity) when a run starts.
"""

from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.business_days import DEFAULT_TIMEZONE
from domain.settings import ReminderSchedule, WorkflowSettings
from domain.steps import ALL_STEPS, Step, ordered

# The development secrets `make run` makes; the command line reads them so that, run from the
# checkout, it mints the same checklist links as the API. Real environment variables win.
DEV_SECRETS_FILE = "data/dev-secrets.env"

IntList = Annotated[list[int], NoDecode]


def _month_day(value: object) -> object:
    if isinstance(value, str):
        month, _, day = value.strip().partition("-")
        parsed = (int(month), int(day))
        date(2024, *parsed)  # a leap year: refuses 02-30 and 13-01, accepts 02-29
        return parsed
    return value


MonthDay = Annotated[tuple[int, int], NoDecode, BeforeValidator(_month_day)]
StepList = Annotated[list[Step], NoDecode]


def _ints(value: object) -> object:
    if isinstance(value, str):
        return [int(p) for p in value.replace(" ", "").split(",") if p]
    return value


class Settings(BaseSettings):
    """Process settings, from environment variables (see the README's settings table)."""

    model_config = SettingsConfigDict(
        env_prefix="",
        extra="ignore",
        case_sensitive=False,
        # The fields' docstrings are read from the source only for the README's table
        # (settings_table): pydantic's use_attribute_docstrings reads them at import, which made
        # this module 33 ms to import instead of 12 in every process (the worker, the API, each
        # run of carm) for the sake of documentation.
    )

    temporal_address: str = "localhost:7233"
    """Temporal frontend (host:port); a profile's address when unset and ``TEMPORAL_PROFILE`` names one."""
    temporal_namespace: str = "default"
    """Temporal namespace (likewise from the profile when unset)."""
    temporal_task_queue: str = "carm-returns"
    """Task queue of the worker."""
    temporal_api_key: SecretStr | None = None
    """API key sent to Temporal (Temporal Cloud, or a cluster that checks keys); turns TLS on."""
    temporal_tls: bool | None = None
    """``true`` for TLS with the system's roots; ``false`` to refuse TLS even with an API key."""
    temporal_tls_server_ca_cert_path: str | None = None
    """PEM file of the CA that signed the frontend's certificate (turns TLS on;
    ``TEMPORAL_TLS_SERVER_CA_CERT_DATA`` takes the PEM itself)."""
    temporal_tls_server_name: str | None = None
    """Name to check the frontend's certificate against, when not the address's host."""
    temporal_tls_client_cert_path: str | None = None
    """PEM file of this client's certificate, for mTLS (``..._CLIENT_CERT_DATA``: the PEM itself)."""
    temporal_tls_client_key_path: str | None = None
    """PEM file of this client's private key, for mTLS (``..._CLIENT_KEY_DATA``: the PEM itself)."""
    temporal_profile: str | None = None
    """Profile of the ``temporal`` CLI's configuration file to connect with (``default`` when unset)."""
    temporal_config_file: str | None = None
    """That TOML file; unset: ``~/.config/temporalio/temporal.toml``. Variables above override it."""

    data_dir: Path = Path("data")
    """Data folder: dev server database, outbox, SMTP sent-ledger."""
    log_format: Literal["console", "json"] = "console"
    """``json`` in production, ``console`` for people."""
    log_level: str = "INFO"
    """Log level of the worker, command line and API."""

    notify_channel: Literal["outbox", "smtp"] = "outbox"
    """Where messages to people go: files under ``DATA_DIR/outbox`` or an SMTP server."""
    smtp_host: str = "localhost"
    """SMTP server (``NOTIFY_CHANNEL=smtp``)."""
    smtp_port: int = 25
    """SMTP port."""
    smtp_from: str = "returns@carm-returns.local"
    """Sender address of every message."""
    smtp_username: str | None = None
    """SMTP login, if the server needs one."""
    smtp_password: str | None = None
    """SMTP password."""
    smtp_starttls: bool = False
    """Upgrade the SMTP connection with STARTTLS."""
    ledger_database_url: SecretStr | None = None
    """PostgreSQL the SMTP sent-ledger lives in (``postgresql://user@host/db``; the password may come
    from ``PGPASSWORD``), shared by every worker replica; unset: ``DATA_DIR/smtp-ledger.sqlite3``."""
    ledger_retention_days: int = Field(default=30, gt=0)
    """The sent-ledger forgets a message this many days after it was sent (longer than deliveries retry)."""
    operations_email: str = "operations@carm-returns.local"
    """Where alerts for operations go."""
    broker_email: str = "broker@carm-returns.local"
    """Where reminders for the broker go."""

    broker_channel: Literal["outbox", "http"] = "outbox"
    """Broker handoffs and requests: outbox files or the broker's HTTP endpoint."""
    broker_url: str | None = None
    """Base URL of the broker's endpoint (``BROKER_CHANNEL=http``)."""
    broker_token: str | None = None
    """Bearer token for the broker's endpoint."""
    warehouse_channel: Literal["outbox", "http"] = "outbox"
    """Warehouse instructions (release, forward, dispose): outbox files or HTTP."""
    warehouse_url: str | None = None
    """Base URL of the warehouse system (``WAREHOUSE_CHANNEL=http``)."""
    warehouse_token: str | None = None
    """Bearer token for the warehouse system."""
    delivery_timeout_seconds: float = 10.0
    """Timeout of one SMTP or HTTP delivery attempt."""

    api_port: int = 8000
    """Port of the HTTP API."""
    api_host: str = "127.0.0.1"
    """Interface the HTTP API listens on."""
    api_token: str | None = None
    """A bearer token with every role of ``/v1``, named ``admin`` (see ``API_TOKENS``)."""
    api_tokens: SecretStr | None = None
    """Bearer tokens with one role each, ``name:role:token[,name:role:token...]``; roles ``signup``
    (sign-up, a seller's status and events, a parcel's decision), ``warehouse`` (arrivals, a
    parcel's status), ``operations`` (everything under ``/v1``). The name is recorded as the actor."""
    broker_webhook_secret: str | None = None
    """Standard Webhooks secret of the broker's webhook, ``whsec_<base64>``; comma-separated to rotate
    (every one verifies)."""
    checklist_link_secret: str | None = None
    """Key of the sellers' checklist links, comma-separated to rotate (the first signs, every one
    verifies); derived from ``API_TOKEN`` when unset, required when only ``API_TOKENS`` is set."""
    api_max_body_bytes: int = Field(default=65_536, gt=0)
    """Largest request body the API reads; a larger one is 413 before anything parses it."""
    api_body_timeout_seconds: float = Field(default=10.0, gt=0)
    """A request body that has not fully arrived this long after the API began reading it is 408."""
    api_temporal_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long a request waits for Temporal: not taken by then is 503 with ``Retry-After``; an update
    taken but not finished is 202 with a ``Location`` to poll."""
    api_max_in_flight: int = Field(default=1000, gt=0)
    """Requests the API lets wait on Temporal at once; one more waits up to two seconds for a place,
    else is 503 with ``Retry-After`` (nothing done). A safety valve: lower it to shed earlier."""
    api_retry_after_seconds: int = Field(default=5, ge=0)
    """The ``Retry-After`` of a 503 (and of a 202: when to poll)."""
    public_base_url: str = "http://localhost:8000"
    """Where sellers reach the API (used in checklist links)."""
    checklist_link_days: int = Field(default=30, gt=0)
    """A checklist link sent to a seller works for this many days; then its page offers a fresh one."""
    broker_legal_name: str | None = None
    """The customs broker's legal name, as sellers see it on the DOA request in the CARM Client Portal."""
    poa_instructions_url: str | None = None
    """The company's page that explains how to submit the Power of Attorney (linked from the POA steps)."""
    poa_instructions_url_fr: str | None = None
    """The French version of that page; the English one when unset."""
    metrics_bind_address: str | None = None
    """``host:port`` for the SDK's Prometheus metrics (``/metrics``); off when unset."""
    import_rate_per_second: float = 20.0
    """Bulk import: sign-ups started per second at most."""

    payload_codec_keys: SecretStr | None = None
    """Payload encryption keys, ``KEY_ID:BASE64KEY[,KEY_ID:BASE64KEY...]`` (32-byte AES-256 keys): the first
    encrypts, all decrypt; unset: payloads are stored as plain JSON (docs/encryption.md)."""
    codec_server_bind: str = "127.0.0.1:8081"
    """``host:port`` of the codec server (``python -m codec``) through which the Web UI decodes payloads."""
    codec_cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:8233", "http://127.0.0.1:8233"]
    )
    """Web UI origins allowed to call the codec server (comma-separated)."""
    codec_server_token: SecretStr | None = None
    """A shared bearer token the codec server accepts (``temporal --codec-auth``, scripts, a proxy)."""
    codec_server_oidc_userinfo_url: str | None = None
    """OIDC userinfo endpoint: the codec server accepts a bearer token (the access token the Web UI
    forwards) when this endpoint accepts it."""
    codec_server_allowed_emails: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """With the OIDC check, only these users (``ops@example.com``, or ``@example.com`` for a domain)."""
    codec_server_allow_unauthenticated: bool = False
    """Let the codec server listen beyond loopback without a token check (only behind another gate)."""
    codec_server_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Without a token check, the only ``Host`` names the codec server answers (comma-separated, no
    port); unset: ``localhost``, ``127.0.0.1``, ``[::1]`` and the ``CODEC_SERVER_BIND`` address. Any
    other is refused, so a web page cannot reach it by DNS rebinding."""

    required_steps: StepList = Field(default_factory=lambda: list(Step))
    """Steps a seller must complete to be cleared (only ``rpp_enrollment`` may be left out)."""
    seller_reminder_days: IntList = Field(default_factory=lambda: [3, 7, 14])
    """Days of waiting on the seller after which they are reminded."""
    seller_escalate_after_days: int = 21
    """Days of waiting on the seller after which operations is alerted and the seller marked stalled."""
    broker_reminder_business_days: IntList = Field(default_factory=lambda: [10, 20, 30])
    """Business days of waiting on the broker after which it is reminded (a POA review may take 30)."""
    broker_escalate_after_business_days: int = 35
    """Business days of waiting on the broker before operations is alerted."""
    carm_inactivity_days: int = 180
    """CARM deactivates a profile after this many days without a login."""
    carm_login_reminder_days_before: IntList = Field(default_factory=lambda: [30, 7])
    """A cleared seller is reminded to log in this many days before the inactivity period ends."""
    rpp_review_date: MonthDay = (10, 20)
    """``MM-DD`` of CBSA's yearly review of RPP financial security (October 20 since 2025)."""
    rpp_review_reminder_days_before: int = 21
    """Cleared sellers are reminded of the yearly RPP security review this many days before it."""
    rpp_posting_deadline: MonthDay = (1, 15)
    """``MM-DD`` by which a higher RPP security must be posted after the review, or RPP is suspended."""
    rpp_posting_reminder_days_before: int = 14
    """Cleared sellers are reminded of the RPP posting deadline this many days before it."""

    warehouse_timezone: str = DEFAULT_TIMEZONE
    """Time zone of the U.S. warehouse (business days and deadlines)."""
    warehouse_holiday_subdivision: str | None = None
    """U.S. state whose holidays also close the warehouse (e.g. ``NY``); federal only when unset."""
    warehouse_holiday_categories: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["public"])
    """``holidays`` package categories that close the warehouse."""
    hold_business_days: int = 15
    """A held parcel is disposed when this business day after its arrival date ends."""
    hold_reminder_business_days_left: IntList = Field(default_factory=lambda: [5, 1])
    """The seller is reminded of a held parcel when this many business days are left."""
    continue_as_new_after_events: int = Field(default=500, ge=20, le=40_000)
    """A seller's workflow continues as new after this many history events. A worker that lost
    the workflow from its cache replays the whole run inside one workflow task (10 s timeout), at
    about 1.1 ms per event here, and tasks running beside it share the interpreter: 500 events
    replay in about 0.6 s, so even ``WORKER_WORKFLOW_TASK_SLOTS`` (10) of them at once finish
    within about 6 s (bench ``replay``, docs/performance.md). A new run costs a dozen events."""
    worker_workflow_task_slots: int = Field(default=10, ge=2, le=1_000)
    """Workflow tasks one worker process runs at once (the SDK's ``max_concurrent_workflow_tasks``).
    They share one interpreter, so a task's time grows with the tasks beside it: after a restart
    every slot may be replaying a whole run (see ``CONTINUE_AS_NEW_AFTER_EVENTS``), and the SDK's
    default of 100 would then run tasks past their 10 s timeout, again and again. A task also
    keeps its slot while its deliveries' local attempts wait on SMTP or HTTP, so too few slots
    would starve a worker whose deliveries are slow: 10 rather than 5 for that margin. At twice
    the burst capacity 5 and 10 slots gave the throughput of 100 within the noise
    (docs/performance.md). Scale with worker processes, not slots."""
    worker_local_activity_slots: int = Field(default=20, ge=1, le=1_000)
    """Local activities (deliveries' first attempts, the parcel–seller signals) running at once."""
    worker_max_cached_workflows: int = Field(default=1_000, ge=0)
    """Workflows kept in the worker's memory between tasks: about 0.25 MiB each here on top of
    100 MiB (bench ``scale``), so 1,000 bound a worker near 350 MiB; one not cached replays."""
    delivery_give_up_after_seconds: int = Field(default=86_400, gt=0)
    """A delivery that still fails this long after its first attempt is given up: operations is
    alerted and it waits for ``delivery_retried`` or ``delivery_abandoned``."""

    _split_ints = field_validator(
        "seller_reminder_days",
        "broker_reminder_business_days",
        "carm_login_reminder_days_before",
        "hold_reminder_business_days_left",
        mode="before",
    )(_ints)

    @field_validator(
        "required_steps",
        "warehouse_holiday_categories",
        "codec_cors_origins",
        "codec_server_allowed_emails",
        "codec_server_allowed_hosts",
        mode="before",
    )
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @field_validator("required_steps")
    @classmethod
    def _required(cls, value: list[Step]) -> list[Step]:
        # Only RPP may be left out: every other step gates the broker's authority.
        missing = (ALL_STEPS - {Step.rpp_enrollment}) - set(value)
        if missing:
            raise ValueError(f"only rpp_enrollment may be optional; missing: {', '.join(ordered(missing))}")
        return ordered(set(value))

    @field_validator(
        "warehouse_holiday_subdivision",
        "temporal_tls",
        "temporal_tls_server_ca_cert_path",
        "temporal_tls_server_name",
        "temporal_tls_client_cert_path",
        "temporal_tls_client_key_path",
        "temporal_profile",
        "temporal_config_file",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator(
        "payload_codec_keys",
        "codec_server_token",
        "codec_server_oidc_userinfo_url",
        "api_tokens",
        "temporal_api_key",
        "ledger_database_url",
        mode="before",
    )
    @classmethod
    def _blank_secret_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _ledger_outlives_retries(self) -> "Settings":
        # A key forgotten while its delivery may still be retried could be sent twice.
        if self.ledger_retention_days * 86_400 <= self.delivery_give_up_after_seconds:
            raise ValueError(
                "LEDGER_RETENTION_DAYS must be longer than DELIVERY_GIVE_UP_AFTER_SECONDS "
                "(a message still being retried must not be forgotten)"
            )
        return self

    def temporal_environment(self) -> dict[str, str]:
        """The connection settings this process was given, as the ``TEMPORAL_*`` variables they are.

        Read from the environment or passed in code (tests do), they override the profile file
        field by field, as they do for the ``temporal`` CLI. Those left at their default do not,
        so a profile's address is not replaced by ``localhost:7233``.
        """
        found: dict[str, str] = {}
        for name in sorted(self.model_fields_set):
            value = getattr(self, name)
            if not name.startswith("temporal_") or name == "temporal_task_queue" or value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            found[name.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
        return found

    def workflow_settings(self, today: date) -> WorkflowSettings:
        """The snapshot for a workflow run starting ``today`` (loads the holiday calendar)."""
        from domain.business_days import load_calendar

        calendar = load_calendar(
            self.warehouse_timezone,
            subdivision=self.warehouse_holiday_subdivision,
            categories=self.warehouse_holiday_categories,
            # Enough years for a hold extended well past its deadline and for a year of
            # broker reminders; a seller's workflow refreshes it at every continue-as-new.
            years=range(today.year - 1, today.year + 4),
        )
        return WorkflowSettings(
            required_steps=self.required_steps,
            seller_reminders=ReminderSchedule(
                remind_after=self.seller_reminder_days, escalate_after=self.seller_escalate_after_days
            ),
            broker_reminders=ReminderSchedule(
                remind_after=self.broker_reminder_business_days,
                escalate_after=self.broker_escalate_after_business_days,
                business_days=True,
            ),
            carm_inactivity_days=self.carm_inactivity_days,
            carm_login_reminder_days_before=self.carm_login_reminder_days_before,
            rpp_review_reminder_days_before=self.rpp_review_reminder_days_before,
            rpp_review_date=self.rpp_review_date,
            rpp_posting_deadline=self.rpp_posting_deadline,
            rpp_posting_reminder_days_before=self.rpp_posting_reminder_days_before,
            hold_business_days=self.hold_business_days,
            hold_reminder_business_days_left=self.hold_reminder_business_days_left,
            calendar=calendar,
            continue_as_new_after_events=self.continue_as_new_after_events,
            delivery_give_up_after_seconds=self.delivery_give_up_after_seconds,
        )


def settings_table() -> str:
    from domain.docs import field_docstrings  # the rules' modules: documentation needs them only

    docs = field_docstrings(Settings)
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, list):
            default = ",".join(str(x) for x in default)
        elif isinstance(default, tuple):  # a month and day
            default = f"{default[0]:02d}-{default[1]:02d}"
        shown = "—" if default is None else f"`{default}`"
        doc = field.description or docs.get(name, "")
        rows.append(f"| `{name.upper()}` | {shown} | {doc} |")
    return "\n".join(rows)
