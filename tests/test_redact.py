"""The redaction point: every form of a secret is caught, nothing else is touched."""

from __future__ import annotations

import html
import json
import urllib.parse

import pytest

from harness import redact
from harness.errors import UserError
from harness.report.terminal import make_console

from conftest import CANARY

ODD = 'a "quoted"/slashed\\ key & <more> \'é€😀'


def _escaped(text: str, every: int = 1, upper: bool = False) -> str:
    """JSON-escape every ``every``-th character as \\uXXXX (a surrogate pair beyond the BMP)."""
    out = []
    for n, ch in enumerate(text):
        if n % every:
            out.append(json.dumps(ch)[1:-1])
            continue
        data = ch.encode("utf-16-be")
        for i in range(0, len(data), 2):
            unit = int.from_bytes(data[i:i + 2], "big")
            out.append(f"\\u{unit:04X}" if upper else f"\\u{unit:04x}")
    return "".join(out)


@pytest.mark.parametrize("secret", [CANARY, ODD])
@pytest.mark.parametrize("form", ["raw", "json", "json-escaped", "json-escaped-upper", "json-partial",
                                  "json-slash", "url", "url-plus", "url-lower", "html"])
def test_every_form_of_a_secret_is_replaced_whole(secret: str, form: str) -> None:
    written = {
        "raw": secret,
        "json": json.dumps(secret)[1:-1],
        "json-escaped": _escaped(secret),
        "json-escaped-upper": _escaped(secret, upper=True),
        "json-partial": _escaped(secret, every=2),
        "json-slash": json.dumps(secret)[1:-1].replace("/", "\\/"),
        "url": urllib.parse.quote(secret, safe=""),
        "url-plus": urllib.parse.quote_plus(secret, safe=""),
        "url-lower": "".join(f"%{b:02x}" for b in secret.encode()),
        "html": html.escape(secret),
    }[form]
    r = redact.redactor({secret: "MY_TOKEN"})
    assert r.text(f"before {written} after") == "before <redacted> after"
    assert r.found_in(f"x{written}x") == "MY_TOKEN"


def test_nothing_but_secrets_is_touched() -> None:
    r = redact.redactor({CANARY: "OPENAI_API_KEY"})
    text = "sk-canary-7f3a9c21d4e8b6a0f5c3e1d is one short, \\u0073k- and %41 are other escapes"
    assert r.text(text) == text and r.found_in(text) is None
    assert r.text(CANARY + CANARY[:-1]) == "<redacted>" + CANARY[:-1]
    assert r.text(f"<p>{CANARY}</p>", redact.MARKUP_REDACTED) == "<p>&lt;redacted&gt;</p>"
    assert r.value({CANARY: [CANARY, 1, (None, f"k={CANARY}")]}) == \
        {"<redacted>": ["<redacted>", 1, (None, "k=<redacted>")]}
    assert not redact.redactor({}) and redact.redactor({}).text(CANARY) == CANARY


def test_a_secret_inside_another_is_replaced_with_the_longer_one() -> None:
    r = redact.redactor({"abcdefgh": "A", "xxabcdefghyy": "B"})
    assert r.text("xxabcdefghyy abcdefgh") == "<redacted> <redacted>"


def test_which_values_are_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok-1234567890")
    monkeypatch.setenv("SHORT_KEY", "1234567")  # under 8 characters: not a credential
    monkeypatch.setenv("PLAIN_SETTING", "value-1234567890")
    found = redact.env_secrets()
    assert found["tok-1234567890"] == "SOME_SERVICE_TOKEN"
    assert "1234567" not in found and "value-1234567890" not in found
    assert redact.env_secrets(["PLAIN_SETTING"])["value-1234567890"] == "PLAIN_SETTING"
    pairs = [("api-key", "k" * 12), ("access_token", "t" * 12), ("sig", "s" * 12), ("code", "c" * 12),
             ("api-version", "2024-10-21"), ("tenant", "acme-corporation"), ("key", "short")]
    assert sorted(redact.query_secrets(pairs).values()) == [
        "the base URL's query parameter 'access_token'", "the base URL's query parameter 'api-key'",
        "the base URL's query parameter 'code'", "the base URL's query parameter 'sig'"]


def test_the_redactor_follows_the_environment_while_other_variables_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest sets PYTEST_CURRENT_TEST before every test phase; the redactor is kept over such
    changes, and still sees a secret set (or a registered variable given a value) after them."""
    before = redact.current()
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "suites/x.yaml::a (call)")
    assert redact.current() is before
    monkeypatch.setenv("LATER_SERVICE_TOKEN", "later-token-0123456789")
    assert redact.clean("said later-token-0123456789") == "said <redacted>"
    redact.register(env_names=["MY_ODD_CREDENTIAL_NAME"])
    redact.clean("warm the cache")
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "suites/x.yaml::b (call)")
    monkeypatch.setenv("MY_ODD_CREDENTIAL_NAME", "odd-credential-0123456789")
    assert redact.clean("said odd-credential-0123456789") == "said <redacted>"


def test_registered_secrets_are_hidden_by_every_writer(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    value = "registered-secret-0123456789"
    redact.register({value: "the base URL's query parameter 'key'"})
    assert redact.clean(f"url ?key={value}") == "url ?key=<redacted>"
    assert value not in str(UserError(f"bad {value}", file="x.yaml"))
    console = make_console()
    console.print(f"error: {urllib.parse.quote(value)} and {value}")
    assert capsys.readouterr().out.strip() == "error: <redacted> and <redacted>"


def test_a_cassette_hides_the_secrets_known_now_and_those_of_the_runs_redactor(
        monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """cassettes.save scrubs with redact.known: the run's redactor (made when the run started)
    plus whatever the process knows when the file is written, under the same 8-character rule."""
    from harness import cassettes

    monkeypatch.setenv("EARLY_API_KEY", "early-secret-0123456789")
    at_start = redact.current()
    monkeypatch.delenv("EARLY_API_KEY")
    monkeypatch.setenv("LATE_API_KEY", "late-secret-0123456789")
    monkeypatch.setenv("TINY_API_KEY", "tiny123")  # under 8 characters: not a credential
    said = "early-secret-0123456789 late-secret-0123456789 tiny123"
    interaction = cassettes.Interaction(
        method="POST", uri="http://127.0.0.1/v1/chat/completions", path="/v1/chat/completions",
        query={}, body={"messages": [{"role": "user", "content": "hi"}]}, status=200,
        response_headers={"content-type": "application/json"},
        response_text=json.dumps({"choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": said}}]}))
    path = tmp_path / "c.yaml"
    assert cassettes.save(path, "s.yaml::a", [interaction], rerecord="harness run", secrets=at_start)
    text = path.read_text()
    assert "secret-0123456789" not in text and text.count("<redacted>") >= 2 and "tiny123" in text


def test_a_narrow_terminal_cannot_wrap_a_key_out_of_sight(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("COLUMNS", "12")
    make_console(stderr=True).print(f"HTTP 401: Bearer {CANARY}")
    err = capsys.readouterr().err
    assert "<redacted>" in err and CANARY[:8] not in err and CANARY[-8:] not in err
