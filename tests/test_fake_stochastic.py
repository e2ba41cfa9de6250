"""The loopback server as a stochastic model: a seeded share of passing answers, the same answers
whatever the order requests arrive in, through the real ``openai`` SDK."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from openai import OpenAI

from harness.testing.fake_openai import FakeOpenAI, Rule, main

MODEL = "gpt-4o-mini"
PROMPTS = ("capital of France", "capital of Italy", "capital of Spain", "capital of Peru")


def _rules(seed: int = 1) -> list[Rule]:
    return [Rule(contains=prompt, content="Paris", failing="Lyon", pass_probability=p, seed=seed)
            for prompt, p in zip(PROMPTS, (0.7, 0.5, 0.0, 1.0), strict=True)]


def _client(server: FakeOpenAI) -> OpenAI:
    return OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)


def _ask(client: OpenAI, prompt: str) -> str:
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": prompt}])
    return reply.choices[0].message.content or ""


def test_answers_pass_at_the_configured_rate() -> None:
    with FakeOpenAI(rules=_rules()) as server:
        client = _client(server)
        answers = [_ask(client, PROMPTS[0]) for _ in range(200)]
        never = {_ask(client, PROMPTS[2]) for _ in range(20)}
        always = {_ask(client, PROMPTS[3]) for _ in range(20)}
    assert set(answers) == {"Paris", "Lyon"}
    assert 0.6 <= answers.count("Paris") / len(answers) <= 0.8  # 200 draws at 0.7: sd 0.03
    assert never == {"Lyon"} and always == {"Paris"}


def test_same_seed_same_answers_other_seed_other_answers() -> None:
    def sequence(seed: int) -> list[str]:
        with FakeOpenAI(rules=_rules(seed)) as server:
            client = _client(server)
            return [_ask(client, PROMPTS[1]) for _ in range(30)]

    first = sequence(1)
    assert sequence(1) == first
    assert sequence(2) != first  # 30 fair coins agree by chance once in 10^9


def test_concurrent_requests_get_the_answers_of_a_sequential_run() -> None:
    """Each request body has its own sequence of draws: eight clients asking four questions that
    one rule answers, in any interleaving, get per question the answers one client asking in turn
    gets."""
    shared = [Rule(contains="capital", content="Paris", failing="Lyon", pass_probability=0.5, seed=3)]
    with FakeOpenAI(rules=shared) as server:
        client = _client(server)
        alone = {prompt: [_ask(client, prompt) for _ in range(12)] for prompt in PROMPTS}
    with FakeOpenAI(rules=shared, latency=0.005) as server, ThreadPoolExecutor(8) as pool:
        client = _client(server)
        futures = [(prompt, pool.submit(_ask, client, prompt)) for _ in range(12) for prompt in PROMPTS]
        together: dict[str, list[str]] = {prompt: [] for prompt in PROMPTS}
        for prompt, future in futures:
            together[prompt].append(future.result())
    for prompt in PROMPTS:
        # Within one question the order of identical requests is the threads' order; what a
        # question gets (how many pass) never depends on the other questions.
        assert sorted(together[prompt]) == sorted(alone[prompt]), prompt


def test_stream_and_plain_requests_share_one_sequence() -> None:
    with FakeOpenAI(rules=_rules()) as server:
        client = _client(server)
        plain = [_ask(client, PROMPTS[1]) for _ in range(10)]
    with FakeOpenAI(rules=_rules()) as server:
        client = _client(server)
        streamed = []
        for _ in range(10):
            chunks = client.chat.completions.create(model=MODEL, stream=True,
                                                    messages=[{"role": "user", "content": PROMPTS[1]}])
            streamed.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
    assert streamed == plain


@pytest.mark.parametrize("bad", [
    {"pass_probability": 1.5, "content": "a", "failing": "b"},
    {"pass_probability": -0.1, "content": "a", "failing": "b"},
    {"pass_probability": True, "content": "a", "failing": "b"},
    {"pass_probability": 0.5, "content": "a"},
    {"pass_probability": 0.5, "failing": "b"},
    {"pass_probability": 0.5, "content": "a", "failing": "b", "status": 500},
])
def test_bad_stochastic_rules_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError, match="pass_probability"):
        Rule.from_mapping(bad)


def test_rules_file_takes_stochastic_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("- {contains: x, content: a, failing: b, pass_probability: 2}\n")
    assert main(["--port", "0", "--rules", str(rules)]) == 2
    assert "pass_probability must be a number in 0..1" in capsys.readouterr().err
