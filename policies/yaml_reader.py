"""Reading a policy's YAML as hostile input: bounded, without surprises, and with every value's location.

PyYAML's ``SafeLoader`` already refuses arbitrary Python objects. On top of it this module refuses what
would otherwise pass silently or blow up later: duplicate keys (the last one would silently win), alias
bombs (a few lines that expand to billions of nodes), documents that are too big, too deep or hold
several documents, YAML merge keys and custom tags. What it returns is plain data plus the line and
column of every key and value, so validation can point at the exact place that is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from policies.policy_errors import PolicyError, PolicyIssue

MAX_DOCUMENT_BYTES = 256 * 1024
MAX_DEPTH = 40
MAX_ALIASES = 20
MAX_NODES = 50_000

Path = tuple[str | int, ...]

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_SAFE_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}


@dataclass(frozen=True)
class Mark:
    """A 1-based position in the source text."""

    line: int
    column: int


@dataclass
class LocatedDocument:
    """Plain data (dict/list/scalars) with the position of every key and value, addressed by path."""

    source: str
    data: Any
    key_marks: dict[Path, Mark] = field(default_factory=dict)
    value_marks: dict[Path, Mark] = field(default_factory=dict)
    block_scalars: set[Path] = field(default_factory=set)
    text: str = ""

    def text_mark(self, path: Path, line: int) -> Mark:
        """Where line ``line`` (1-based) of the multi-line text value at ``path`` is in the file."""
        start = self.value_mark(path)
        if line <= 1 and path not in self.block_scalars:
            return start
        # A block scalar (| or >) starts on the line after its indicator.
        number = start.line + line if path in self.block_scalars else start.line + line - 1
        lines = self.text.splitlines()
        if not 1 <= number <= len(lines):
            return start
        content = lines[number - 1]
        return Mark(number, len(content) - len(content.lstrip()) + 1)

    def key_mark(self, path: Path) -> Mark:
        """Where the key at ``path`` is written (falls back to its value, then to its parent)."""
        while path:
            if path in self.key_marks:
                return self.key_marks[path]
            if path in self.value_marks:
                return self.value_marks[path]
            path = path[:-1]
        return self.value_marks.get((), Mark(1, 1))

    def value_mark(self, path: Path) -> Mark:
        """Where the value at ``path`` starts (falls back to its key, then to its parent)."""
        while path:
            if path in self.value_marks:
                return self.value_marks[path]
            if path in self.key_marks:
                return self.key_marks[path]
            path = path[:-1]
        return self.value_marks.get((), Mark(1, 1))


class _Refused(Exception):
    def __init__(self, message: str, mark: Any):
        super().__init__(message)
        self.message = message
        self.mark = mark


def _mark(yaml_mark: Any) -> Mark:
    if yaml_mark is None:
        return Mark(0, 0)
    return Mark(yaml_mark.line + 1, yaml_mark.column + 1)


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts aliases and bounds nesting while the node graph is composed."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Refused(
                    f"more than {MAX_ALIASES} YAML aliases (*name); write the values out instead",
                    self.peek_event().start_mark,
                )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Walker:
    """Turns the composed node graph into plain data, recording marks and refusing surprises."""

    def __init__(self, loader: _BoundedLoader, doc: LocatedDocument):
        self.loader = loader
        self.doc = doc
        self.visited = 0
        self.active: set[int] = set()

    def value(self, node: Node, path: Path) -> Any:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise _Refused(f"the document expands to more than {MAX_NODES} values (an alias bomb?)", node.start_mark)
        if id(node) in self.active:
            raise _Refused("a YAML alias refers to a value that contains it", node.start_mark)
        self.doc.value_marks[path] = _mark(node.start_mark)
        if isinstance(node, ScalarNode):
            if node.style in ("|", ">"):
                self.doc.block_scalars.add(path)
            return self.scalar(node)
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                if node.tag != _SEQ_TAG:
                    raise _Refused(f"YAML tag {node.tag!r} is not supported here", node.start_mark)
                return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                return self.mapping(node, path)
        finally:
            self.active.discard(id(node))
        raise _Refused("unsupported YAML node", node.start_mark)  # pragma: no cover

    def scalar(self, node: ScalarNode) -> Any:
        if node.tag not in _SAFE_SCALAR_TAGS:
            raise _Refused(f"YAML tag {node.tag!r} is not supported here", node.start_mark)
        # YAML 1.1 quirks nobody writing a policy means: `no` (Norwegian) as false, `18:00` as the
        # base-60 number 1080. Keep those as the text written; only true/false are yes/no values.
        if node.tag == "tag:yaml.org,2002:bool" and node.value.lower() not in ("true", "false"):
            return node.value
        if node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float") and ":" in node.value:
            return node.value
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError, yaml.constructor.ConstructorError) as exc:
            raise _Refused(f"value {node.value!r} cannot be read: {exc}", node.start_mark) from None

    def mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        if node.tag != _MAP_TAG:
            raise _Refused(f"YAML tag {node.tag!r} is not supported here", node.start_mark)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused("YAML merge keys (<<) are not supported; write the keys out", key_node.start_mark)
            if not isinstance(key_node, ScalarNode):
                raise _Refused("a key must be plain text, not a list or mapping", key_node.start_mark)
            key = self.scalar(key_node)
            if not isinstance(key, str):
                # YAML reads `yes`, `1` or `2024-01-01` as non-text; keys are names, so say so.
                key = key_node.value
            if key in result:
                first = self.doc.key_marks[(*path, key)]
                raise _Refused(
                    f"duplicate key '{key}' (first written at line {first.line}); "
                    "YAML would silently keep only the last one, so remove or rename one of them",
                    key_node.start_mark,
                )
            self.doc.key_marks[(*path, key)] = _mark(key_node.start_mark)
            result[key] = self.value(value_node, (*path, key))
        return result


def read_yaml(text: str, source: str) -> LocatedDocument:
    """Parse one YAML document safely; raise :class:`PolicyError` naming the place of any problem."""
    doc = LocatedDocument(source=source, data=None, text=text)
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_DOCUMENT_BYTES:
        raise PolicyError(
            [PolicyIssue(source, 0, 0, f"file is {size} bytes; a policy may be at most {MAX_DOCUMENT_BYTES}")]
        )
    try:
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        message = f"character {exc.character:#06x} is not allowed in YAML; remove it or write it as an escape"
        raise PolicyError([PolicyIssue(source, line, column, message)]) from None
    try:
        try:
            node = loader.get_single_node()
        except yaml.composer.ComposerError as exc:
            if "expected a single document" in str(exc):
                raise _Refused(
                    "the file holds more than one YAML document (---); keep one policy per file",
                    exc.problem_mark,
                ) from None
            raise
        if node is None:
            raise _Refused("the file is empty; a policy starts with 'version: 1'", None)
        doc.data = _Walker(loader, doc).value(node, ())
    except _Refused as exc:
        mark = _mark(exc.mark)
        raise PolicyError([PolicyIssue(source, mark.line, mark.column, exc.message)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = _mark(exc.problem_mark or exc.context_mark)
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise PolicyError([PolicyIssue(source, mark.line, mark.column, f"invalid YAML: {problem}{context}")]) from None
    except yaml.YAMLError as exc:
        raise PolicyError([PolicyIssue(source, 0, 0, f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise PolicyError([PolicyIssue(source, 0, 0, f"nested more than {MAX_DEPTH} levels deep")]) from None
    finally:
        loader.dispose()
    return doc
