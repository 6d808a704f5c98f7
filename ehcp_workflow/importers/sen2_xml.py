"""Streaming reader for SEN2 XML: one ``Person`` at a time, with line numbers, no personal data.

Why streaming: a county's SEN2 return can run to 100 MB; building the whole tree would need several
times that in Python objects. ``defusedxml.ElementTree.iterparse`` (safe against entity expansion
and external entities) hands over each ``Person`` when its end tag is read; it is turned into a
small :class:`Node` tree, then cleared and detached so memory stays flat whatever the file size.

Why our own tree builder: ElementTree keeps no line numbers, and iterparse reports events in
16 KB batches, so the parser's position at event time is not the element's. The builder below
records expat's current line inside the ``start`` callback, which runs exactly at the start tag.

Element names are matched case-insensitively and without namespace (sen2-spec §2.1: sources
disagree on ``SENsetting``/``SENSetting``); each :class:`Node` keeps the spelling used in the file
for messages. Personal fields (name, birth date, sex, ethnicity, postcode) are never read: their
text is replaced by :data:`REDACTED` as the node is built, so no later code can leak them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError, TreeBuilder
from xml.parsers.expat import XMLParserType

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, iterparse

from ehcp_workflow.importers.values import date_window, parse_iso_date
from ehcp_workflow.problems import Problem

#: Deepest element nesting read. A SEN2 return nests about 7 deep (Message/Persons/Person/
#: Requests/Assessment/...); a file nested deeper is refused before it can exhaust the stack.
MAX_DEPTH = 64

#: Stands in for the text of an element that holds personal data or free text.
REDACTED = "\u2022redacted\u2022"

#: Stands in for a birth date that is not a date, or not a plausible one (the value is not kept).
REDACTED_BAD_DATE = "\u2022redacted: not a plausible date\u2022"

#: Person-level items that identify or describe the child (sen2-spec §2.2 Module 1), plus the free
#: text ``SENSettingOther``. Only their presence is kept.
REDACTED_KEYS = frozenset(
    {
        "surname",
        "forename",
        "personbirthdate",
        "sex",
        "gendercurrent",
        "ethnicity",
        "postcode",
        "sensettingother",
    }
)


@dataclass(slots=True)
class Node:
    """One element: file spelling of its name, lower-case key, start line, stripped text."""

    name: str
    key: str
    line: int
    text: str | None
    children: list[Node] = field(default_factory=list)
    index: dict[str, list[Node]] = field(default_factory=dict)  # children by key

    def all(self, key: str) -> list[Node]:
        """Children named ``key`` (lower case), in file order. Do not modify the list."""
        return self.index.get(key, _NONE)

    def first(self, key: str) -> Node | None:
        found = self.index.get(key)
        return found[0] if found else None


_NONE: list[Node] = []


@dataclass(frozen=True)
class HeaderEvent:
    node: Node


@dataclass(frozen=True)
class PersonEvent:
    number: int  # 1-based position of the Person in the file
    node: Node


class FatalXmlError(Exception):
    """The file cannot be read any further; carries the problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class _LineTreeBuilder(TreeBuilder):
    """A TreeBuilder that remembers the line of every start tag, the root, and the Persons block."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Element, int] = {}
        self.expat: XMLParserType | None = None
        self.root: Element | None = None
        self.persons: Element | None = None
        self.names: dict[str, tuple[str, str]] = {}  # tag -> (local name, lower-case key)
        self.depth = 0
        self.file = ""
        self.window = date_window()
        self.today = date.today()

    def start(self, tag: str, attrs: dict[str, str], /) -> Element:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            line = self.expat.CurrentLineNumber if self.expat is not None else 0
            raise FatalXmlError(
                Problem(
                    self.file,
                    f"line {line}",
                    "",
                    local_name(tag),
                    f"elements are nested more than {MAX_DEPTH} deep, which a SEN2 return never is; "
                    "the file was not read further",
                    rule="sen2-xml",
                )
            )
        elem = super().start(tag, attrs)
        if self.expat is not None:
            self.lines[elem] = self.expat.CurrentLineNumber
        if self.root is None:
            self.root = elem
        elif self.name(tag)[1] == "persons":
            self.persons = elem
        return elem

    def end(self, tag: str, /) -> Element:
        self.depth -= 1
        return super().end(tag)

    def name(self, tag: str) -> tuple[str, str]:
        """(local name, lower-case key) of ``tag``, cached: there are only a few dozen tags."""
        found = self.names.get(tag)
        if found is None:
            local = local_name(tag)
            found = self.names[tag] = (local, local.lower())
        return found

    def detach(self, person: Element) -> None:
        """Drop a finished Person from its parent so the tree does not grow with the file."""
        person.clear()
        for holder in (self.persons, self.root):
            # Earlier Persons were detached at once, so this one is at the front of its holder.
            if holder is not None and any(child is person for child in holder[:2]):
                holder.remove(person)
                return


def local_name(tag: str) -> str:
    """``{namespace}Name`` -> ``Name`` (SEN2 has no namespace; tolerate one anyway)."""
    return tag.rpartition("}")[2]


def _plausible_birth(text: str, builder: _LineTreeBuilder) -> bool:
    """A birth date that is a ccyy-mm-dd date from the window's start up to today.

    Judged here, before the text is redacted, so the reader can warn about an impossible birth
    date (once stored as NULL without a word) without ever holding the date itself.
    """
    day = parse_iso_date(text)
    return day is not None and builder.window.earliest <= day <= builder.today


def to_node(elem: Element, builder: _LineTreeBuilder) -> Node:
    """Copy ``elem``'s subtree into :class:`Node` values, forgetting the recorded lines."""
    name, key = builder.name(elem.tag)
    text = (elem.text or "").strip() or None
    if text is not None and key in REDACTED_KEYS:
        text = REDACTED if key != "personbirthdate" or _plausible_birth(text, builder) else REDACTED_BAD_DATE
    node = Node(name, key, builder.lines.pop(elem, 0), text)
    for child in elem:
        sub = to_node(child, builder)
        node.children.append(sub)
        node.index.setdefault(sub.key, []).append(sub)
    return node


def stream(path: Path, file: str) -> Iterator[HeaderEvent | PersonEvent]:
    """Yield the Header and then each Person of the SEN2 file at ``path``.

    Raises :class:`FatalXmlError` for a file that is not well-formed XML (with the parser's line
    and column), that declares a DTD or entities, or whose root is not ``Message``.
    """
    builder = _LineTreeBuilder()
    builder.file = file
    parser = DefusedXMLParser(target=builder, forbid_dtd=True)
    builder.expat = parser.parser
    number = 0
    checked = False
    try:
        with path.open("rb") as fh:
            # "end" events only: the builder tracks the root and the Persons block as it goes.
            for _, elem in iterparse(fh, events=("end",), parser=parser):
                if not checked and builder.root is not None:
                    checked = True
                    if builder.name(builder.root.tag)[1] != "message":
                        raise FatalXmlError(_not_sen2(file, builder.root, builder))
                key = builder.name(elem.tag)[1]
                if key == "person":
                    number += 1
                    yield PersonEvent(number, to_node(elem, builder))
                    builder.detach(elem)
                elif key == "header":
                    yield HeaderEvent(to_node(elem, builder))
    except ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(": line ")[0]
        raise FatalXmlError(
            Problem(
                file,
                f"line {line}, column {column + 1}",
                "",
                "",
                f"the file is not well-formed XML ({reason}); fix the XML at this position "
                "(an unclosed or mistyped tag, or a stray '&' or '<', is the usual cause)",
                rule="sen2-xml",
            )
        ) from exc
    except DefusedXmlException as exc:
        line = builder.expat.CurrentLineNumber if builder.expat else 0
        raise FatalXmlError(
            Problem(
                file,
                f"line {line}",
                "",
                "",
                f"the file declares a DTD or entities ({type(exc).__name__}), which a SEN2 return "
                "never contains; it was not read, for safety. Export the return again from the "
                "case-management system",
                rule="sen2-xml",
            )
        ) from exc


def _not_sen2(file: str, root_elem: Element, builder: _LineTreeBuilder) -> Problem:
    root, line = builder.name(root_elem.tag)[0], builder.lines.get(root_elem, 1)
    return Problem(
        file,
        f"line {line}",
        "",
        root,
        f"the root element is <{root}>, not <Message>: this is not a SEN2 return "
        "(sen2-spec §2.1). Check that the right file was chosen",
        rule="sen2-structure",
    )
