"""The inventory: new, changed, unchanged, suspect and removed paths, no file read."""

from __future__ import annotations

from tasks.discover import SourceFile
from tasks.inventory import KnownVersion, compare_with_stored


def _known(doc_id: int, size: int = 10, mtime: int = 1000, status: str = "ok",
           sha: str = "aa") -> KnownVersion:
    return KnownVersion(doc_id=doc_id, version=1, sha256=sha, size_bytes=size, mtime_ns=mtime,
                        status=status)


def test_take_inventory_classifies_every_path():
    files = [
        SourceFile("new.txt", 5, 100),
        SourceFile("same.txt", 10, 1000),
        SourceFile("touched.txt", 10, 2000),
        SourceFile("resized.txt", 11, 1000),
        SourceFile("back-again.txt", 10, 1000),
    ]
    known = {
        "same.txt": _known(1),
        "touched.txt": _known(2),
        "resized.txt": _known(3),
        "back-again.txt": _known(4, status="removed"),
        "gone.txt": _known(5),
        "gone-before.txt": _known(6, status="removed"),
        "excluded/gone.txt": _known(7),
    }
    plan = compare_with_stored(files, known, ["*"], ["excluded/*"], verify_hashes=False)
    assert [f.rel_path for f in plan.new] == ["new.txt"]
    assert [(f.rel_path, k.doc_id) for f, k in plan.unchanged] == [("same.txt", 1)]
    # A path that comes back after removal carries its 'removed' version, to be retired.
    assert [(f.rel_path, k.doc_id) for f, k in plan.suspect] == [("touched.txt", 2),
                                                                ("resized.txt", 3),
                                                                ("back-again.txt", 4)]
    # Only paths this run could have seen are removed, and only once.
    assert [(p, k.doc_id) for p, k in plan.removed] == [("gone.txt", 5)]
    assert plan.has_file_work


def test_take_inventory_verify_hashes_suspects_everything_known():
    files = [SourceFile("same.txt", 10, 1000)]
    plan = compare_with_stored(files, {"same.txt": _known(1)}, ["*"], [], verify_hashes=True)
    assert plan.unchanged == []
    assert [f.rel_path for f, _ in plan.suspect] == ["same.txt"]


def test_take_inventory_with_nothing_to_do():
    files = [SourceFile("same.txt", 10, 1000)]
    plan = compare_with_stored(files, {"same.txt": _known(1)}, ["*"], [], verify_hashes=False)
    assert not plan.has_file_work
    assert len(plan.unchanged) == 1


def test_take_inventory_narrower_include_removes_nothing_outside_it():
    known = {"a/one.txt": _known(1), "b/two.txt": _known(2)}
    plan = compare_with_stored([SourceFile("a/one.txt", 10, 1000)], known, ["a/*"], [], False)
    assert plan.removed == []
