"""What a vcrpy / pytest-recording user has: cassettes recorded by vcrpy itself, through the openai
SDK, against the loopback server (shared by the replay and the import tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import openai
import vcr

from harness.testing.fake_openai import FakeOpenAI

from conftest import CANARY

SUITE = """
    model: gpt-4o
    cases:
      - id: capital
        prompt: What is the capital of France?
        temperature: 0
        checks:
          - contains: Paris
      - id: poem
        system: You write short poems.
        prompt: A poem about the sea.
        checks:
          - icontains: waves
      - id: never-recorded
        prompt: Something nobody asked.
"""


def sdk_client(fake: FakeOpenAI) -> openai.OpenAI:
    return openai.OpenAI(api_key=CANARY, base_url=fake.base_url, max_retries=0, http_client=httpx2.Client())


def record(path: Path, calls: Callable[[], Any], **options: Any) -> None:
    """What a pytest-recording user has: vcrpy's own recording, its defaults (gzip bodies as
    ``!!binary``, every header, Authorization included) unless ``options`` say otherwise."""
    with vcr.use_cassette(str(path), record_mode="all", match_on=["method", "path", "body"], **options):
        calls()
