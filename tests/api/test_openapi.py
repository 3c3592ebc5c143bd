"""The committed OpenAPI document is the one the app serves."""

import json

from starter.api import create_app, openapi_document
from tests.api.helpers import ROOT, api_settings
from tests.conftest import Stack


def test_committed_openapi_document_is_current(dev_stack: Stack) -> None:
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    app = create_app(api_settings(dev_stack), client=dev_stack.client)
    assert committed == app.openapi() == openapi_document(), (
        "docs/openapi.json is out of date: run `python -m starter.api --write-openapi docs/openapi.json`"
    )
