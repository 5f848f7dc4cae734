"""Exports load back: SFT JSONL, a saved datasets.Dataset, DPO pairs, Markdown transcripts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qconsole.errors import QConsoleError
from qconsole.store import SessionStore
from qconsole.store import export as ex

NASTY = "esc \x1b[31mred\x1b[0m ``` fence \u202e \ud800 Привет"
# Exports keep text verbatim but for lone surrogates, which Arrow and tokenizers reject.
EXPORTED = NASTY.replace("\ud800", "\ufffd")


def reply(text: str, **fields) -> dict:
    return {"text": text, "model": "gemma", "template": "transcript", **fields}


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    store = SessionStore(tmp_path / "sessions")
    a = store.create_session({"models": "gemma", "system": "Reason step by step.",
                              "adapters": {"right": {"name": "fair-1", "fingerprint": "ab"}}})
    store.append_turn(a, {"user": "What is honesty?", "left": reply("A quote."),
                          "right": reply("Telling the truth.", adapter="fair-1",
                                         adapter_fingerprint="ab")})
    store.append_turn(a, {"user": "Generalise it.", "left": reply("Cannot."),
                          "right": reply("Truthfulness.")})
    store.set_mark(a, "t1", "left", "sophistry", note="quoted", step="judgement")
    store.set_rewrite(a, "t1", "left", "Honesty is not deceiving.")
    store.set_mark(a, "t2", "left", ["generalisation", "forgot_context"])
    store.set_rewrite(a, "t2", "left", NASTY)
    store.set_preference(a, "t2", "right")
    b = store.create_session({"models": "gemma"})
    store.append_turn(b, {"user": "2+2?", "left": reply("5")})
    store.set_mark(b, "t1", "left", "factual")
    store.set_rewrite(b, "t1", "left", "4")
    return store


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_sft_jsonl(store: SessionStore, tmp_path: Path) -> None:
    corrections = store.corrections()
    out = tmp_path / "out" / "sft.jsonl"
    assert ex.write_sft_jsonl(corrections, out) == 3
    records = read_jsonl(out)
    assert [r["id"] for r in records] == [c.id for c in corrections]
    first, second, third = records
    assert first["messages"] == [
        {"role": "system", "content": "Reason step by step."},
        {"role": "user", "content": "What is honesty?"},
        {"role": "assistant", "content": "Honesty is not deceiving."},
    ]
    assert [m["role"] for m in second["messages"]] == [
        "system", "user", "assistant", "user", "assistant"]
    assert second["messages"][2]["content"] == "Honesty is not deceiving."  # earlier rewrite
    assert second["messages"][-1]["content"] == EXPORTED  # control chars kept verbatim
    src = second["source"]
    assert (src["session_id"], src["turn_id"], src["side"]) == tuple(second["id"].split("/"))
    assert src["kinds"] == ["generalisation", "forgot_context"] and src["original"] == "Cannot."
    assert src["hash"] == corrections[1].hash
    assert first["source"]["step"] == "judgement" and first["source"]["note"] == "quoted"
    assert third["messages"][-1]["content"] == "4"


def test_sft_dataset_loads_back(store: SessionStore, tmp_path: Path) -> None:
    from datasets import load_from_disk

    corrections = store.corrections()
    out = tmp_path / "dataset"
    assert ex.save_sft_dataset(corrections, out) == 3
    ds = load_from_disk(str(out))
    assert len(ds) == 3
    assert ds[1]["messages"][-1] == {"role": "assistant", "content": EXPORTED}
    assert ds[1]["source"]["kinds"] == ["generalisation", "forgot_context"]
    assert ds["id"] == [c.id for c in corrections]
    assert [row["messages"] for row in ds] == [ex.sft_record(c)["messages"] for c in corrections]

    # saving again replaces the old dataset; an unrelated directory is refused
    assert ex.save_sft_dataset(corrections[:1], out) == 1
    assert len(load_from_disk(str(out))) == 1
    other = tmp_path / "precious"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(QConsoleError, match="not a saved dataset"):
        ex.save_sft_dataset(corrections, other)
    assert (other / "notes.txt").read_text() == "keep me"


def test_empty_dataset_keeps_its_columns(tmp_path: Path) -> None:
    from datasets import load_from_disk

    assert ex.save_sft_dataset([], tmp_path / "empty") == 0
    ds = load_from_disk(str(tmp_path / "empty"))
    assert len(ds) == 0 and set(ds.column_names) == {"id", "messages", "source"}


def test_preference_jsonl(store: SessionStore, tmp_path: Path) -> None:
    pairs = store.preference_pairs()
    out = tmp_path / "dpo.jsonl"
    assert ex.write_preference_jsonl(pairs, out) == len(pairs) == 4
    records = read_jsonl(out)
    pref = next(r for r in records if r["source"]["kind"] == "preference")
    assert pref["prompt"][-1] == {"role": "user", "content": "Generalise it."}
    assert pref["prompt"][2] == {"role": "assistant", "content": "Telling the truth."}
    assert pref["chosen"] == [{"role": "assistant", "content": "Truthfulness."}]
    assert pref["rejected"] == [{"role": "assistant", "content": "Cannot."}]
    rewrite = [r for r in records if r["source"]["kind"] == "rewrite"]
    assert {r["chosen"][0]["content"] for r in rewrite} == {
        "Honesty is not deceiving.", EXPORTED, "4"}
    assert all(r["id"].startswith(r["source"]["session_id"] + "/") for r in records)


def test_markdown_transcript(store: SessionStore, tmp_path: Path) -> None:
    ids = [r.id for r in store.list_sessions()]
    sessions = [store.load_session(i) for i in ids]
    out = tmp_path / "t.md"
    assert ex.write_markdown(sessions, out) == 2
    text = out.read_text(encoding="utf-8", errors="surrogatepass")
    for expected in ("# Session", "What is honesty?", "A quote.", "Telling the truth.",
                     "Marked failing:** Sophistry or quotation — failed step: Judgement",
                     "Note: quoted", "**Rewrite:**", "Honesty is not deceiving.",
                     "Failed generalisation, Forgot earlier context", "**Preferred:** right",
                     "fair-1 (ab)", "\\x1b[31mred", "````\n"):
        assert expected in text, expected
    assert "\x1b" not in text and "\u202e" not in text  # nothing that drives a terminal


def test_outputs_are_not_written_over_directories(store: SessionStore, tmp_path: Path) -> None:
    with pytest.raises(QConsoleError, match="directory"):
        ex.write_sft_jsonl(store.corrections(), tmp_path)
    file = tmp_path / "a-file"
    file.write_text("x")
    with pytest.raises(QConsoleError, match="is a file"):
        ex.save_sft_dataset(store.corrections(), file)
