"""Test utilities shipped with harness, so users and CI can record and replay without an API key.

:mod:`harness.testing.fake_openai` is an OpenAI-compatible fake server on
127.0.0.1 (standard library only) that the test suite, the benchmarks and the
example-cassette recordings talk to through the real ``openai`` SDK.
"""
