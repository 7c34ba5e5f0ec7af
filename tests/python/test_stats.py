"""Bus.stats(): a typed TopicStats (CursorStats for named cursors), whose fields are the C++ field
table (include/shmbus/topic_stats_fields.h): the same names as `shmbus stat --json` and the stubs."""
import ast
import json
import pathlib

import pytest

import shmbus

STUBS = pathlib.Path(__file__).resolve().parents[2] / "bindings" / "python" / "shmbus" / "__init__.pyi"


@pytest.fixture
def b(bus):
    with shmbus.Bus(bus) as opened:
        yield opened


def stub_properties(class_name):
    tree = ast.parse(STUBS.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    return [f.name for f in cls.body if isinstance(f, ast.FunctionDef) and f.name != "asdict"]


def test_stats_are_a_typed_object_with_repr_and_asdict(b):
    b.create_topic("stat.me", capacity=1 << 16, policy="overwrite")
    b.publisher("stat.me").publish(b"12345")
    s = b.stats("stat.me")
    assert isinstance(s, shmbus.TopicStats) and not isinstance(s, dict)
    assert (s.name, s.kind, s.capacity, s.policy, s.published, s.bytes) == ("stat.me", "memory", 1 << 16,
                                                                           "overwrite", 1, 5)
    assert isinstance(s.tail_position, int) and s.tail_seq == 1
    d = s.asdict()
    assert d["published"] == 1 and d["name"] == "stat.me"
    assert repr(s).startswith("TopicStats(name='stat.me', kind='memory', ") and "published=1" in repr(s)


def test_journal_fields_are_none_on_a_memory_topic_and_absent_from_asdict(b):
    b.create_topic("ram")
    s = b.stats("ram")
    assert s.segments is None and s.fsync is None and s.cursors is None
    assert "segments" not in s.asdict() and "cursors" not in s.asdict()
    assert set(s.asdict()) < set(shmbus.TopicStats.fields)


def test_cursor_stats_are_typed_and_asdict_nests_them(b, tmp_path):
    b.create_topic("j", kind="journal", dir=str(tmp_path / "j"), segment_size=64 * 1024)
    b.publisher("j").publish(b"x")
    b.set_cursor("j", "billing", "earliest")
    s = b.stats("j")
    [c] = s.cursors
    assert isinstance(c, shmbus.CursorStats)
    assert (c.name, c.position, c.lag_records, c.in_use) == ("billing", 0, 1, False)
    assert repr(c).startswith("CursorStats(name='billing', position=0")
    assert s.asdict()["cursors"] == [c.asdict()] and c.asdict()["lag_records"] == 1
    assert set(s.asdict()) == set(shmbus.TopicStats.fields)


def test_the_stubs_list_every_field_of_the_table():
    assert stub_properties("TopicStats") == list(shmbus.TopicStats.fields)
    cursor_fields = [name for name in dir(shmbus.CursorStats) if isinstance(getattr(shmbus.CursorStats, name), property)]
    assert sorted(stub_properties("CursorStats")) == sorted(cursor_fields)


@pytest.mark.parametrize("kind", ["memory", "journal"])
def test_cli_stat_json_has_the_fields_of_python_asdict(b, run, tmp_path, kind):
    b.create_topic("t", kind=kind, dir=str(tmp_path / "t") if kind == "journal" else None)
    b.publisher("t").publish(b"abc")
    if kind == "journal":
        b.set_cursor("t", "c1", "earliest")
    r = run("stat", "t", "--json")
    assert r.returncode == 0, r.stderr
    cli = json.loads(r.stdout)
    python = b.stats("t").asdict()
    assert list(cli) == list(python)
    assert {k: v for k, v in cli.items() if k != "cursors"} == {k: v for k, v in python.items() if k != "cursors"}
    if kind == "journal":
        assert [c["name"] for c in cli["cursors"]] == [c["name"] for c in python["cursors"]] == ["c1"]


def test_cli_stat_text_has_one_line_per_field_of_asdict(b, run):
    b.publisher("t").publish(b"abc")
    r = run("stat", "t")
    assert r.returncode == 0, r.stderr
    labels = [line.split(None, 1)[0] for line in r.stdout.splitlines()]
    assert labels == list(b.stats("t").asdict())
