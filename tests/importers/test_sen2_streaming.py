"""A large SEN2 file is streamed: peak memory stays well below the file size (tracemalloc).

The file is ~20 MB of realistic Persons (~2 KB each, the shape of sen2-spec §6). Building the whole
tree with ElementTree would need several times the file size; streaming one Person at a time needs
about what the resulting case table needs.
"""

from __future__ import annotations

import tracemalloc

from ehcp_workflow.importers.sen2 import read_sen2
from ehcp_workflow.importers.sen2_person_rules import upn_check_letter

from .helpers import FIXTURES

TARGET_BYTES = 20_000_000


def _build(path) -> int:
    example = (FIXTURES / "spec_example_2026.xml").read_text(encoding="utf-8")
    head = example[: example.index("<Persons>") + len("<Persons>\n")]
    start = example.index("    <!-- 2.")
    template = example[start : example.index("    <!-- 3.")]  # Person 2: a plan issued, full detail
    template = template.replace("K999200019002", "{upn}")
    size, n = len(head), 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write(head)
        while size < TARGET_BYTES:
            n += 1
            body = f"9{n:011d}"
            chunk = template.format(upn=upn_check_letter("A" + body) + body)
            fh.write(chunk)
            size += len(chunk)
        fh.write("  </Persons>\n</Message>\n")
    return n


def test_peak_memory_is_well_below_the_file_size(tmp_path):
    path = tmp_path / "big.xml"
    persons = _build(path)
    file_size = path.stat().st_size
    assert file_size >= TARGET_BYTES
    tracemalloc.start()
    try:
        caseload, problems = read_sen2(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(caseload) == persons
    assert problems == []
    # Measured: ~0.3 of the file size, nearly all of it the case table itself.
    assert peak < 0.4 * file_size, f"peak {peak / 1e6:.1f} MB for a {file_size / 1e6:.1f} MB file"
