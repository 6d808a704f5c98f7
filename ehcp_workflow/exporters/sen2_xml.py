"""Writing SEN2 XML one person at a time (no document tree, flat memory).

The writer knows nothing about SEN2 rules: it prints a :class:`~.sen2_build.Block` in the order the
year's :class:`~.sen2_layout.Layout` gives, two-space indented, UTF-8, text escaped. An item that is
not in the year's layout is a programming error and raises.
"""

from __future__ import annotations

import re
from typing import IO
from xml.sax.saxutils import escape

from ehcp_workflow.exporters.sen2_build import Block
from ehcp_workflow.exporters.sen2_layout import Layout

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
XML_INVALID = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def text(value: str) -> str:
    """``value`` escaped for XML character data, without characters XML 1.0 cannot carry."""
    return escape(XML_INVALID.sub("", value))


def render(block: Block, layout: Layout, depth: int = 0) -> str:
    """``block`` as indented XML (an empty block renders as nothing)."""
    parts: list[str] = []
    _render(block, layout, depth, parts)
    return "".join(parts)


def _render(block: Block, layout: Layout, depth: int, parts: list[str]) -> None:
    if not block:
        return
    order = layout.blocks[block.name]
    unknown = set(block.items) - set(order)
    if unknown:
        raise ValueError(f"{block.name} has {sorted(unknown)}, not in the {layout.year} layout")
    pad = "  " * depth
    parts.append(f"{pad}<{block.name}>\n")
    for name in order:
        value = block.items.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            parts.append(f"{pad}  <{name}>{text(value)}</{name}>\n")
        else:
            for child in value:
                _render(child, layout, depth + 1, parts)
    parts.append(f"{pad}</{block.name}>\n")


class PersonsWriter:
    """Streams ``<Persons>``: opened at the first person, so an empty return has no empty element."""

    def __init__(self, fh: IO[str], layout: Layout) -> None:
        self.fh = fh
        self.layout = layout
        self.count = 0

    def write(self, person: Block) -> None:
        if not person:
            return
        if self.count == 0:
            self.fh.write("  <Persons>\n")
        self.fh.write(render(person, self.layout, depth=2))
        self.count += 1

    def close(self) -> None:
        if self.count:
            self.fh.write("  </Persons>\n")
