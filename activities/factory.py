"""Build the delivery activities for the channels the settings choose."""

from datetime import timedelta

from activities.adapters.http import HttpBroker, HttpWarehouse
from activities.adapters.ledger import PostgresLedger, SentLedger, SqliteLedger
from activities.adapters.outbox import OutboxBroker, OutboxNotifier, OutboxSink, OutboxWarehouse
from activities.adapters.rendering import TemplateRenderer
from activities.adapters.smtp import SmtpNotifier
from activities.deliveries import Broker, DeliveryActivities, Notifier, Warehouse
from config.settings import Settings
from i18n import CompanyWords
from starter.links import checklist_keys, checklist_url


def build_delivery_activities(settings: Settings) -> DeliveryActivities:
    """Pick an adapter per channel: outbox files under ``data_dir/outbox``, SMTP, or HTTP."""
    outbox = OutboxSink(settings.data_dir / "outbox")
    timeout = settings.delivery_timeout_seconds

    notifier: Notifier = OutboxNotifier(outbox)
    if settings.notify_channel == "smtp":
        notifier = SmtpNotifier(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            operations_email=settings.operations_email,
            broker_email=settings.broker_email,
            ledger=sent_ledger(settings),
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout=timeout,
            keep_sent_for=timedelta(days=settings.ledger_retention_days),
        )

    broker: Broker = OutboxBroker(outbox)
    if settings.broker_channel == "http":
        url = _required(settings.broker_url, "BROKER_URL", "BROKER_CHANNEL")
        broker = HttpBroker(url, settings.broker_token, timeout)

    warehouse: Warehouse = OutboxWarehouse(outbox)
    if settings.warehouse_channel == "http":
        url = _required(settings.warehouse_url, "WAREHOUSE_URL", "WAREHOUSE_CHANNEL")
        warehouse = HttpWarehouse(url, settings.warehouse_token, timeout)

    checklist_keys(settings)  # every seller message carries a link: refuse to start without a key

    def mint_link(seller_id: str, epoch: int, nonce: str) -> str:
        return checklist_url(settings, seller_id, epoch=epoch, nonce=nonce)

    renderer = TemplateRenderer(company=CompanyWords.from_settings(settings))
    return DeliveryActivities(notifier, broker, warehouse, renderer, mint_link)


def sent_ledger(settings: Settings) -> SentLedger:
    """PostgreSQL when ``LEDGER_DATABASE_URL`` is set (every replica shares it), else a local file."""
    if settings.ledger_database_url is not None:
        return PostgresLedger(settings.ledger_database_url.get_secret_value())
    return SqliteLedger(settings.data_dir / "smtp-ledger.sqlite3")


def _required(url: str | None, variable: str, channel_variable: str) -> str:
    if not url:
        raise ValueError(f"{channel_variable}=http needs {variable} (the base URL of the API)")
    return url
