"""Where a request goes: a provider resolved against the environment.

Its own module, apart from request.py, because both request.py (which resolves it) and the wire
APIs in apis/ (which route a request to its path on it) need the type, and apis/ must not import
request.py, which imports them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    """A provider resolved against the environment: where to send and which key variable to read."""

    type: str
    base_url: str | None
    azure_endpoint: str | None
    deployment: str | None
    api_version: str | None
    key_env: str
    #: The base URL's (or Azure endpoint's) own query parameters: sent with every request, kept
    #: out of the request's identity, of cassettes and of everything printed.
    default_query: tuple[tuple[str, str], ...] = ()

    @property
    def azure(self) -> bool:
        return self.type == "azure"
