"""Cases from data files (cases_from): CSV, JSON Lines and YAML rows become cases; ids, filters,
limits; every mistake in a data file is told at its file and line, with exit 2 and no traceback."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

import harness
from harness import suite as suite_module
from harness.errors import UserError

from conftest import Project

HEAD = """\
model: gpt-4o
prompt: "Where is {{ city }}?"
"""


def _data(project: Project, name: str, text: str | bytes) -> Path:
    path = project.root / "data" / name
    path.parent.mkdir(exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def _suite(project: Project, cases_from: str, extra: str = "") -> Path:
    return project.suite("geo.yaml", HEAD + cases_from + extra)


def _cases(path: Path) -> list[harness.suite.Case]:
    return list(harness.load_suite(path).cases)


def _error(project: Project, path: Path) -> str:
    result = project.run("validate", str(path.relative_to(project.root)))
    assert result.code == 2, result.text
    assert "Traceback" not in result.text
    return result.err


def test_csv_rows_are_cases_with_text_values(project: Project) -> None:
    # A byte-order mark (spreadsheets write one), a quoted field over two lines, a blank line and a
    # row of empty cells (left by a spreadsheet) are all read as a person means them.
    _data(project, "cities.csv", "\ufeffid,city,expected,population\n"
                                 "fr-1,Paris,France,2100000\n"
                                 "\n"
                                 'it 2,"Rome\nCapital",Italy,2800000\n'
                                 ",,,\n"
                                 "de.3,Berlin,,3600000\n")
    path = _suite(project, "cases_from: ../data/cities.csv\n")
    cases = _cases(path)
    assert [c.id for c in cases] == ["fr-1", "it_2", "de.3"]  # "it 2" sanitised like any id
    assert cases[1].vars == {"id": "it 2", "city": "Rome\nCapital", "expected": "Italy",
                             "population": "2800000"}  # CSV values are text, the id column included
    assert cases[2].vars["expected"] == ""
    assert [c.origin for c in cases] == ["data/cities.csv:2", "data/cities.csv:4", "data/cities.csv:7"]
    assert all(c.suite_path == Path("suites/geo.yaml") and c.line == 3 for c in cases)
    assert cases[0].cassette_path == project.root / "cassettes" / "geo" / "fr-1.yaml"


def test_jsonl_keeps_types_and_a_named_id_column(project: Project) -> None:
    _data(project, "q.jsonl", '{"key": 1000, "city": "Paris", "tags": ["a", "b"], "n": 2.5}\r\n'
                              "\n"
                              '{"key": "k-7", "city": "Oslo\u2028Norway", "tags": [], "n": null}\n')
    cases = _cases(_suite(project, "cases_from: {file: ../data/q.jsonl, id: key}\n"))
    assert [c.id for c in cases] == ["1000", "k-7"]
    assert cases[0].vars == {"key": 1000, "city": "Paris", "tags": ["a", "b"], "n": 2.5}
    assert cases[1].vars["city"] == "Oslo\u2028Norway"  # a line separator inside a JSON text is no line end
    assert [c.origin for c in cases] == ["data/q.jsonl:1", "data/q.jsonl:3"]


def test_yaml_rows_and_suite_vars_as_defaults(project: Project) -> None:
    _data(project, "q.yaml", """
        - id: a
          city: Paris
        - id: b
          city: Oslo
          tone: dry
    """)
    cases = _cases(_suite(project, "cases_from: ../data/q.yaml\n", "vars: {tone: warm}\n"))
    assert [(c.id, c.vars["tone"], c.origin) for c in cases] == [("a", "warm", "data/q.yaml:1"),
                                                                 ("b", "dry", "data/q.yaml:3")]


def test_rows_without_id_are_named_by_content(project: Project) -> None:
    rows = ['{"city": "Paris", "expected": "France"}', '{"city": "Rome", "expected": "Italy"}']
    data = _data(project, "q.jsonl", "\n".join(rows) + "\n")
    path = _suite(project, "cases_from: ../data/q.jsonl\n")
    ids = [c.id for c in _cases(path)]
    assert all(i.startswith("row-") and len(i) == 16 for i in ids) and len(set(ids)) == 2
    # Reordering rows, or the keys inside a row, keeps every id (and so every cassette).
    data.write_text(rows[1] + "\n" + '{"expected": "France", "city": "Paris"}\n')
    assert [c.id for c in _cases(path)] == ids[::-1]
    # Editing a row gives it a new id; the other keeps its own.
    data.write_text(rows[0] + "\n" + '{"city": "Roma", "expected": "Italy"}\n')
    edited = [c.id for c in _cases(path)]
    assert edited[0] == ids[0] and edited[1] != ids[1]


def test_where_and_limit(project: Project) -> None:
    _data(project, "t.csv", """
        id,lang,priority,text
        1,en,1,a
        2,fr,2,b
        3,en,2,c
        4,de,1,d
        5,en,1,e
    """)
    def ids(spec: str) -> list[str]:
        return [c.id for c in _cases(_suite(project, f"cases_from: {spec}\n"))]

    assert ids("{file: ../data/t.csv, where: {lang: en}}") == ["1", "3", "5"]
    assert ids("{file: ../data/t.csv, where: {lang: [en, de], priority: 1}}") == ["1", "4", "5"]  # 1 matches "1"
    assert ids("{file: ../data/t.csv, where: {lang: en}, limit: 2}") == ["1", "3"]
    assert ids("{file: ../data/t.csv, limit: 1}") == ["1"]


def test_reading_stops_at_the_limit(project: Project) -> None:
    _data(project, "t.jsonl", '{"id": "a", "city": "Paris"}\n{"id": "b", "city": "Oslo"}\nnot json\n')
    assert [c.id for c in _cases(_suite(project, "cases_from: {file: ../data/t.jsonl, limit: 2}\n"))] == ["a", "b"]
    assert "data/t.jsonl:3: bad JSON" in _error(project, _suite(project, "cases_from: ../data/t.jsonl\n"))


def test_several_sources_beside_inline_cases(project: Project) -> None:
    _data(project, "a.csv", "id,city\nx,Paris\n")
    _data(project, "b.jsonl", '{"id": "y", "city": "Oslo"}\n')
    path = _suite(project, "cases_from: [../data/a.csv, {file: ../data/b.jsonl}]\n",
                  "models: [gpt-4o, gpt-4o-mini]\ncases:\n  - id: z\n    vars: {city: Rome}\n")
    assert [c.id for c in _cases(path)] == ["z[gpt-4o]", "z[gpt-4o-mini]", "x[gpt-4o]", "x[gpt-4o-mini]",
                                            "y[gpt-4o]", "y[gpt-4o-mini]"]
    assert project.run("validate", "suites").code == 0  # found in a folder walk like any suite


def test_a_suite_with_only_cases_from_is_found_in_a_folder(project: Project) -> None:
    _data(project, "a.csv", "id,city\nx,Paris\n")
    _suite(project, "cases_from: ../data/a.csv\n")
    result = project.run("validate", "suites")
    assert result.code == 0 and "1 suite(s), 1 case(s): valid" in result.out, result.text


def test_duplicate_ids_name_both_rows(project: Project) -> None:
    _data(project, "a.csv", "id,city\nx_1,Paris\nx 1,Oslo\n")
    assert "data/a.csv:3 [case x_1]: duplicate case id 'x_1' (also at data/a.csv:2" in \
        _error(project, _suite(project, "cases_from: ../data/a.csv\n"))
    _data(project, "b.jsonl", '{"id": "x_1", "city": "Rome"}\n')
    _data(project, "a.csv", "id,city\nx_1,Paris\n")
    assert "data/b.jsonl:1 [case x_1]: duplicate case id 'x_1' (also at data/a.csv:2" in \
        _error(project, _suite(project, "cases_from: [../data/a.csv, ../data/b.jsonl]\n"))
    _data(project, "c.jsonl", '{"city": "Rome"}\n{"city": "Rome"}\n')
    err = _error(project, _suite(project, "cases_from: ../data/c.jsonl\n"))
    assert "data/c.jsonl:2" in err and "this row is the same as data/c.jsonl:1" in err
    # A row and an inline case of the same id.
    err = _error(project, _suite(project, "cases_from: ../data/a.csv\n", "cases:\n  - id: x_1\n"))
    assert "data/a.csv:2 [case x_1]: duplicate case id 'x_1' (first at line 5)" in err


BAD_FILES = {
    "csv fields": ("t.csv", "id,city\na,Paris\nb,Oslo,extra\n",
                   "data/t.csv:3: this row has 3 field(s) but the header has 2 (id, city)"),
    "csv header twice": ("t.csv", "id,city,city\na,b,c\n", "data/t.csv:1: the header names column 'city' twice"),
    "csv empty": ("t.csv", "\n", "data/t.csv:1: the CSV file has no header row"),
    "csv quote": ("t.csv", 'id,city\na,"Paris\n', "data/t.csv:2: CSV error"),
    "json syntax": ("t.jsonl", '{"id": "a"}\n{"id": "b",}\n', "data/t.jsonl:2: bad JSON at column 12"),
    "json list": ("t.jsonl", '{"id": "a"}\n\n[1, 2]\n', "data/t.jsonl:3: a row must be a JSON object"),
    "json nan": ("t.jsonl", '{"id": "a", "x": NaN}\n', "data/t.jsonl:1: bad JSON: NaN is not a number"),
    "json inf": ("t.jsonl", '{"id": "a", "x": 1e400}\n', "data/t.jsonl:1: bad JSON: 1e400 is not a finite number"),
    "json key twice": ("t.jsonl", '{"id": "a", "id": "b"}\n', "data/t.jsonl:1: bad JSON: key 'id' appears twice"),
    "yaml mapping": ("t.yaml", "id: a\n", "data/t.yaml:1: a YAML data file must be a list of mappings"),
    "yaml item": ("t.yaml", "- id: a\n- just text\n", "data/t.yaml:2: a row must be a mapping"),
    "yaml syntax": ("t.yaml", "- id: a\n- {id: b\n", "data/t.yaml:3: YAML syntax error"),
    "not utf-8": ("t.csv", "id,city\na,Paris\nb,S\xe3o Paulo\n".encode("latin-1"),
                  "data/t.csv:3: not UTF-8 text: byte 0xe3 at column 4"),
    "empty id": ("t.csv", "id,city\na,Paris\n ?,Oslo\n", "data/t.csv:3: column 'id' is empty or has no letter or digit"),
    "list id": ("t.jsonl", '{"id": [1], "city": "Paris"}\n', "data/t.jsonl:1: column 'id' holds [1]; an id is a text"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_errors_in_data_files_name_file_and_line(project: Project, name: str) -> None:
    file, text, expected = BAD_FILES[name]
    _data(project, file, text)
    assert expected in _error(project, _suite(project, f"cases_from: ../data/{file}\n"))


BAD_SOURCES = {
    "missing id column csv": ("t.csv", "id,city\na,Paris\n", "{file: ../data/t.csv, id: ticket}",
                              "suites/geo.yaml:3: cases_from id: data/t.csv has no column 'ticket' (its header has: id, city)"),
    "missing id column jsonl": ("t.jsonl", '{"ticket": "a"}\n{"city": "b"}\n', "{file: ../data/t.jsonl, id: ticket}",
                                "data/t.jsonl:2: this row has no 'ticket' (the id column cases_from names)"),
    "unknown filter csv": ("t.csv", "id,lang\na,en\n", "{file: ../data/t.csv, where: {lnag: en}}",
                           "suites/geo.yaml:3: cases_from where: data/t.csv has no column 'lnag' (its header has: id, lang)"),
    "unknown filter jsonl": ("t.jsonl", '{"id": "a", "lang": "en"}\n', "{file: ../data/t.jsonl, where: {lnag: en}}",
                             "suites/geo.yaml:3: cases_from where: no row of data/t.jsonl has a column 'lnag' (columns: id, lang)"),
    "not found": ("t.csv", "id\na\n", "../data/nope.csv", "suites/geo.yaml:3: data file '../data/nope.csv' not found"),
    "suffix": ("t.txt", "id\na\n", "../data/t.txt", "suites/geo.yaml:3: cases_from: '../data/t.txt' is not a data file"),
    "no rows": ("t.csv", "id,lang\n", "../data/t.csv", "suites/geo.yaml:3: cases_from: data/t.csv gives no case: it has no rows"),
    "no match": ("t.csv", "id,lang\na,en\n", "{file: ../data/t.csv, where: {lang: EN}}",
                 "suites/geo.yaml:3: cases_from: data/t.csv gives no case: no row matches its where:"),
    "unknown key": ("t.csv", "id\na\n", "{file: ../data/t.csv, limt: 3}",
                    "suites/geo.yaml:3: invalid suite at cases_from: Additional properties are not allowed ('limt' was "
                    "unexpected); did you mean 'limit'?"),
    "bad limit": ("t.csv", "id\na\n", "{file: ../data/t.csv, limit: 0}", "suites/geo.yaml:3: invalid suite at cases_from"),
}


@pytest.mark.parametrize("name", list(BAD_SOURCES))
def test_errors_in_sources_name_the_suite_line(project: Project, name: str) -> None:
    file, text, source, expected = BAD_SOURCES[name]
    _data(project, file, text)
    assert expected in _error(project, _suite(project, f"cases_from: {source}\n"))


def test_no_cases_and_no_cases_from(project: Project) -> None:
    assert "suites/geo.yaml:1: invalid suite at (top level): a suite lists its cases under 'cases:', or reads " \
        "them from data files with 'cases_from:'" in _error(project, _suite(project, ""))


def test_data_files_stay_inside_the_project(project: Project, tmp_path: Path) -> None:
    outside = tmp_path / "secret.csv"
    outside.write_text("id,city\na,Paris\n")
    assert "suites/geo.yaml:3: data file '../../secret.csv' is outside the project" in \
        _error(project, _suite(project, "cases_from: ../../secret.csv\n"))
    (project.root / "data").mkdir()
    os.symlink(outside, project.root / "data" / "link.csv")
    assert "suites/geo.yaml:3: data file '../data/link.csv' is outside the project" in \
        _error(project, _suite(project, "cases_from: ../data/link.csv\n"))
    assert "Paris" not in _error(project, _suite(project, "cases_from: ../data/link.csv\n"))


def test_rows_count_towards_a_bound(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suite_module, "MAX_DATA_CASES", 5)
    _data(project, "t.csv", "id\n" + "".join(f"r{i}\n" for i in range(3)))
    path = _suite(project, "cases_from: ../data/t.csv\n", "models: [a, b]\n")
    err = _error(project, path)
    assert "suites/geo.yaml:3 [case cases_from ../data/t.csv]: these 3 rows bring the suite to 6 cases (rows x " \
           "matrix x models x apis x samples); with rows from data a suite file may expand to at most 5: select " \
           "rows with where: or limit:, or split it" in err
    path.write_text(path.read_text().replace("../data/t.csv", "{file: ../data/t.csv, limit: 2}"))
    assert len(_cases(path)) == 4


def test_a_missing_variable_names_the_row(project: Project) -> None:
    _data(project, "t.jsonl", '{"id": "a", "city": "Paris"}\n{"id": "b", "town": "Oslo"}\n')
    err = _error(project, _suite(project, "cases_from: ../data/t.jsonl\n"))
    assert "suites/geo.yaml:2 [case b]: undefined variable in user message: 'city' is undefined " \
           "(the row at data/t.jsonl:2)" in err


def test_load_suite_raises_a_user_error(project: Project) -> None:
    _data(project, "t.jsonl", "[1]\n")
    with pytest.raises(UserError) as info:
        harness.load_suite(_suite(project, "cases_from: ../data/t.jsonl\n"))
    assert info.value.file == "data/t.jsonl" and info.value.line == 1

