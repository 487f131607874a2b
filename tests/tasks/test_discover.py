"""Discovery: globs, default excludes, symlink loops and dangling links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from compliance.settings import DEFAULT_EXCLUDE
from tasks.discover import discover_files, matches_globs


def _touch(path: Path, text: str = "x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    _touch(root / "top.txt")
    _touch(root / "a" / "one.pdf")
    _touch(root / "a" / "b" / "two.md")
    _touch(root / "a" / "b" / "notes.txt~")
    _touch(root / "c" / "~$lock.docx")
    _touch(root / "c" / ".secret.txt")
    _touch(root / ".git" / "config")
    os.symlink("..", root / "a" / "loop")  # a/loop -> root: a cycle
    os.symlink(".", root / "a" / "b" / "self")  # a/b/self -> a/b: another cycle
    return root


def test_discover_default_excludes_and_symlink_loops(tree):
    found = discover_files(tree, ["*"], list(DEFAULT_EXCLUDE))
    paths = [f.rel_path for f in found]
    assert sorted(paths) == ["a/b/two.md", "a/one.pdf", "top.txt"]
    assert len(paths) == len(set(paths)), "every file once, whatever the links"
    for source_file in found:
        stat = (tree / source_file.rel_path).stat()
        assert (source_file.size_bytes, source_file.mtime_ns) == (stat.st_size, stat.st_mtime_ns)


def test_discover_include_and_exclude_globs(tree):
    assert [f.rel_path for f in discover_files(tree, ["*.md"], [])] == ["a/b/two.md"]
    assert [f.rel_path for f in discover_files(tree, ["a/*"], ["*.md", "*~"])] == ["a/one.pdf"]
    everything = {f.rel_path for f in discover_files(tree, ["*"], [])}
    assert {".git/config", "c/.secret.txt", "c/~$lock.docx", "a/b/notes.txt~"} <= everything
    assert not any("loop" in p or "self" in p for p in everything)


def test_discover_skips_dangling_links(tree):
    os.symlink(tree / "does-not-exist.txt", tree / "dangling.txt")
    paths = [f.rel_path for f in discover_files(tree, ["*"], list(DEFAULT_EXCLUDE))]
    assert "dangling.txt" not in paths


def test_matches_globs_star_spans_directories():
    assert matches_globs("a/b/c.txt", ["*.txt"], [])
    assert not matches_globs("a/b/c.txt", ["*.md"], [])
    assert not matches_globs("a/.hidden/c.txt", ["*"], list(DEFAULT_EXCLUDE))
    assert matches_globs("anything", [], [])
