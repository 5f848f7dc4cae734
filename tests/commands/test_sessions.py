"""``qconsole sessions list|show|export`` through ``qconsole.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qconsole.cli import main
from qconsole.store import SessionStore


@pytest.fixture
def sessions(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "sessions"
    store = SessionStore(root)
    a = store.create_session({"models": "gemma", "adapters": {"right": "fair-1"}})
    store.append_turn(a, {"user": "What is \x1b[31mhonesty\x1b[0m?",
                          "left": {"text": "A quote.", "model": "gemma"},
                          "right": {"text": "Truth.", "model": "gemma", "adapter": "fair-1"}})
    store.set_mark(a, "t1", "left", "sophistry", note="quoted")
    store.set_rewrite(a, "t1", "left", "Not deceiving.")
    store.set_preference(a, "t1", "right")
    b = store.create_session({"models": "gemma"})
    store.append_turn(b, {"user": "Two plus two?", "left": {"text": "5", "model": "gemma"}})
    store.set_mark(b, "t1", "left", "factual")
    c = store.create_session({"models": "gemma"})
    store.append_turn(c, {"user": "Hello there", "left": {"text": "Hi", "model": "gemma"}})
    return root, {"a": a, "b": b, "c": c}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list(sessions, capsys) -> None:
    root, ids = sessions
    code, out, err = run(capsys, "sessions", "list", "--sessions-dir", str(root))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("ID")
    assert {line.split()[0] for line in lines[1:]} == set(ids.values())
    assert "\x1b" not in out and "\\x1b[31mhonesty" in out  # escapes shown, not obeyed
    row_a = next(line for line in lines if line.startswith(ids["a"]))
    assert "fair-1" in row_a and "gemma" in row_a


@pytest.mark.parametrize(
    ("args", "which"),
    [
        (["--kind", "factual"], {"b"}),
        (["--marked"], {"a", "b"}),
        (["--unmarked"], {"c"}),
        (["--rewritten"], {"a"}),
        (["--not-rewritten"], {"b", "c"}),
        (["--adapter", "fair"], {"a"}),
        (["--text", "TWO PLUS"], {"b"}),
        (["--text", "not deceiving"], {"a"}),
    ],
)
def test_list_filters_as_json(sessions, capsys, args: list[str], which: set[str]) -> None:
    root, ids = sessions
    code, out, _ = run(capsys, "sessions", "list", "--json", "--sessions-dir", str(root), *args)
    assert code == 0
    assert {json.loads(line)["id"] for line in out.splitlines()} == {ids[w] for w in which}


def test_list_uses_the_sessions_env_by_default(sessions, capsys, monkeypatch) -> None:
    root, ids = sessions
    monkeypatch.setenv("QCONSOLE_SESSIONS", str(root))
    code, out, _ = run(capsys, "sessions", "list", "--json")
    assert code == 0 and len(out.splitlines()) == 3


def test_list_reports_quarantined_files(sessions, capsys) -> None:
    root, ids = sessions
    (root / "20250101-000000-0bad00.json").write_text("{ oops")
    code, out, err = run(capsys, "sessions", "list", "--sessions-dir", str(root))
    assert code == 0 and len(out.splitlines()) == 4
    assert "warning" in err and "quarantine" in err and "0bad00" in err


def test_show_markdown_and_json_with_a_prefix(sessions, capsys) -> None:
    root, ids = sessions
    code, out, _ = run(capsys, "sessions", "show", ids["a"], "--sessions-dir", str(root))
    assert code == 0
    assert f"# Session {ids['a']}" in out and "Not deceiving." in out and "Sophistry" in out
    assert "\x1b" not in out
    code, out, _ = run(capsys, "sessions", "show", ids["b"][:-2], "--json",
                       "--sessions-dir", str(root))
    assert code == 0
    data = json.loads(out)
    assert data["id"] == ids["b"] and data["turns"][0]["marks"]["left"]["kinds"] == ["factual"]


@pytest.mark.parametrize("bad", ["../../etc/passwd", "nope-000", "a/b"])
def test_show_bad_ids_fail_cleanly(sessions, capsys, bad: str) -> None:
    root, _ = sessions
    code, out, err = run(capsys, "sessions", "show", bad, "--sessions-dir", str(root))
    assert code == 2 and out == ""
    assert err.startswith("qconsole: error:") and len(err.strip().splitlines()) == 1


def test_ambiguous_prefix_fails_cleanly(sessions, capsys) -> None:
    root, ids = sessions
    common = ids["a"][:2]  # ids start with the year: "20..."
    code, _, err = run(capsys, "sessions", "show", common, "--sessions-dir", str(root))
    assert code == 2 and "matches 3 sessions" in err


def test_export_sft_dataset_dpo_markdown(sessions, capsys, tmp_path: Path) -> None:
    from datasets import load_from_disk

    root, ids = sessions
    base = ["sessions", "export", "--sessions-dir", str(root)]

    code, _, err = run(capsys, *base, "-f", "sft", "-o", str(tmp_path / "sft.jsonl"))
    assert code == 0 and "exported 1 corrections" in err
    (rec,) = [json.loads(x) for x in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert rec["id"] == f"{ids['a']}/t1/left"
    assert rec["messages"][-1] == {"role": "assistant", "content": "Not deceiving."}

    code, _, _ = run(capsys, *base, "-f", "dataset", "-o", str(tmp_path / "ds"))
    assert code == 0
    assert load_from_disk(str(tmp_path / "ds"))["id"] == [rec["id"]]

    code, _, err = run(capsys, *base, "-f", "dpo", "-o", str(tmp_path / "dpo.jsonl"))
    assert code == 0 and "exported 2 preference pairs" in err
    pairs = [json.loads(x) for x in (tmp_path / "dpo.jsonl").read_text().splitlines()]
    assert {p["source"]["kind"] for p in pairs} == {"preference", "rewrite"}
    code, _, err = run(capsys, *base, "-f", "dpo", "--no-rewrite-pairs", "-o", "-")
    assert "exported 1 preference pairs" in err

    code, _, err = run(capsys, *base, "-f", "markdown", "-s", ids["b"], "-o",
                       str(tmp_path / "b.md"))
    assert code == 0
    md = (tmp_path / "b.md").read_text()
    assert "Two plus two?" in md and "Factual error" in md and "Hello there" not in md

    code, _, err = run(capsys, *base, "-f", "markdown", "-o", str(tmp_path / "all.md"))
    assert (tmp_path / "all.md").read_text().count("# Session ") == 3


def test_export_to_stdout_and_filters(sessions, capsys) -> None:
    root, ids = sessions
    code, out, err = run(capsys, "sessions", "export", "--sessions-dir", str(root),
                         "-f", "sft", "-o", "-", "--kind", "factual")
    assert code == 0 and out == "" and "nothing to export" in err
    code, out, _ = run(capsys, "sessions", "export", "--sessions-dir", str(root),
                       "-f", "sft", "-o", "-")
    assert json.loads(out)["source"]["kinds"] == ["sophistry"]


def test_export_dataset_needs_a_directory(sessions, capsys) -> None:
    root, _ = sessions
    code, _, err = run(capsys, "sessions", "export", "--sessions-dir", str(root),
                       "-f", "dataset", "-o", "-")
    assert code == 2 and "directory" in err


def test_sessions_without_action_prints_help(capsys) -> None:
    code, out, _ = run(capsys, "sessions")
    assert code == 2 and "list" in out and "export" in out
