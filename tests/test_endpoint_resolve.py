"""A provider's endpoint is built once per base URL, and still follows the environment."""

from __future__ import annotations

import pytest

from harness import redact
from harness.request import resolve_endpoint
from harness.suite import Provider


def test_a_changed_base_url_in_the_environment_is_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = Provider()
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8001/v1/")
    first = resolve_endpoint(provider)
    assert first.base_url == "http://127.0.0.1:8001/v1"
    assert resolve_endpoint(provider) == first
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8002/v1?api-key=gateway-secret-123456")
    second = resolve_endpoint(provider)
    assert second.base_url == "http://127.0.0.1:8002/v1"
    assert second.default_query == (("api-key", "gateway-secret-123456"),)
    assert "gateway-secret-123456" not in redact.current().text("key gateway-secret-123456")
    assert resolve_endpoint(provider, base_url_override="http://127.0.0.1:8003/v1").base_url \
        == "http://127.0.0.1:8003/v1"
