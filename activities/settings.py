"""The settings snapshot a workflow run takes when it starts (run as a local activity)."""

from datetime import date

from temporalio import activity

from config.settings import Settings
from domain.payloads import SnapshotRequest
from domain.settings import WorkflowSettings


class SettingsActivities:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._cache: dict[date, WorkflowSettings] = {}

    @activity.defn(name="snapshot_settings")
    def snapshot_settings(self, request: SnapshotRequest) -> WorkflowSettings:
        # Loading the holiday calendar costs a few milliseconds; thousands of holds arriving on
        # one day share one snapshot per worker.
        today = date.fromisoformat(request.today)
        if today not in self._cache:
            self._cache = {today: self._settings.workflow_settings(today)}
        return self._cache[today]
