"""What every command shares: the consoles, loading settings and the store, and turning known errors into clean exits.

Everything the commands print is data: ticket subjects, queue names, file names, a helpdesk's error body, a
stored dead letter. None of it is markup and none of it may drive the terminal, so the consoles here are
:class:`LiteralConsole`: every string is shown as written (no markup, emoji codes or highlighting), control
characters are stripped from everything rendered, and URLs and configured secrets are masked. Our own emphasis
is given with ``style=`` or :func:`styled`, never with markup.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, ConsoleOptions, JustifyMethod, OverflowMethod, RenderableType
from rich.progress import Progress, ProgressColumn, TextColumn
from rich.segment import Segment
from rich.status import Status
from rich.style import Style
from rich.text import Text

from connectors.redaction import CONTROL_CHARACTERS, redact, strip_control
from router.config import ConfigError, Settings, load_settings
from router.store import Store, StoreError

# What JSON output escapes instead of stripping: json.dumps escapes C0 itself, these it leaves raw.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def shown(text: str) -> str:
    """What a console shows of ``text``: control characters stripped, URLs and configured secrets masked."""
    return redact(strip_control(text))


def safe_json(data: Any, *, indent: int | None = 2) -> str:
    """JSON text that a terminal prints as characters: every control and bidi character is a ``\\uXXXX`` escape.

    A JSON reader gets the same strings back, except that credentials in URLs and configured secrets are masked.
    """
    text = json.dumps(data, indent=indent, ensure_ascii=False, default=str)
    return redact(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text))


def styled(*parts: str | tuple[str, str | Style]) -> Text:
    """Text from plain strings and ``(string, style)`` pairs: our emphasis, with the data shown literally."""
    return Text.assemble(*((shown(p[0]), p[1]) if isinstance(p, tuple) else shown(p) for p in parts))


class _LiteralStatus(Status):
    """A status spinner whose message is data: a str is never parsed as markup (rich's Spinner would)."""

    def update(
        self,
        status: RenderableType | None = None,
        *,
        spinner: str | None = None,
        spinner_style: Any = None,
        speed: float | None = None,
    ) -> None:
        super().update(
            _literal(status) if status is not None else None, spinner=spinner, spinner_style=spinner_style, speed=speed
        )


def _literal(renderable: RenderableType) -> RenderableType:
    return Text(shown(renderable)) if isinstance(renderable, str) else renderable


class LiteralConsole(Console):
    """A Console that shows every string as data: no markup, emoji or highlighting, no control characters.

    ``render_str`` is where rich turns every str (a printed message, a table cell, a title, a rule) into Text,
    so overriding it covers them all; rendered segments are filtered once more, so Text built elsewhere
    (progress bars, spinners) cannot carry an escape sequence to the terminal either.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.update(markup=False, emoji=False, highlight=False)
        super().__init__(**kwargs)

    def render_str(
        self,
        text: str,
        *,
        style: str | Style = "",
        justify: JustifyMethod | None = None,
        overflow: OverflowMethod | None = None,
        emoji: bool | None = None,
        markup: bool | None = None,
        highlight: bool | None = None,
        highlighter: Callable[[str | Text], Text] | None = None,
    ) -> Text:
        return Text(shown(text), style=style, justify=justify, overflow=overflow)

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            # Control segments are rich's own cursor movements; text segments are what we were asked to show.
            if segment.control is None and CONTROL_CHARACTERS.search(segment.text):
                yield Segment(strip_control(segment.text), segment.style)
            else:
                yield segment

    def status(self, status: RenderableType, **kwargs: Any) -> Status:
        return _LiteralStatus(_literal(status), console=self, **kwargs)

    def print_json(self, json: str | None = None, *, data: Any = None, **kwargs: Any) -> None:
        """JSON output, indented, with every string escaped for the terminal (see :func:`safe_json`)."""
        import json as json_module

        value = json_module.loads(json) if json is not None else data
        self.print(Text(safe_json(value, indent=kwargs.get("indent", 2))), soft_wrap=True)


def progress(*columns: str | ProgressColumn, **kwargs: Any) -> Progress:
    """A progress display whose texts (descriptions, file and connector names) are shown literally."""
    built = list(columns) or [TextColumn("{task.description}"), *Progress.get_default_columns()[1:]]
    for column in built:
        # Exactly TextColumn: its subclasses (the percentage column) format numbers with markup of their own.
        if type(column) is TextColumn:
            column.markup = False
    kwargs.setdefault("console", err_console)
    return Progress(*built, **kwargs)


console = LiteralConsole()
err_console = LiteralConsole(stderr=True)


class _ConsoleLogHandler(logging.Handler):
    """Our libraries' warnings (an HTTP retry, say) through the literal console instead of raw to stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            err_console.print(
                styled((f"{record.levelname.lower()}:", "yellow"), " ", self.format(record)), soft_wrap=True
            )
        except Exception:  # a log line must never break the command
            self.handleError(record)


_deskroute_log = logging.getLogger("deskroute")
if not any(isinstance(h, _ConsoleLogHandler) for h in _deskroute_log.handlers):
    _deskroute_log.addHandler(_ConsoleLogHandler(logging.WARNING))

EncodingOption = typer.Option(
    "auto",
    "--encoding",
    help="File encoding (auto: UTF-8, with or without BOM, UTF-16 with a BOM, else cp1252).",
)
ConfigOption = typer.Option(
    None, "--config", "-c", help="Path to deskroute.toml (default: $DESKROUTE_CONFIG or ./deskroute.toml)."
)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error for a person (no stack trace) and return the exit to raise."""
    err_console.print(styled(("error:", "bold red"), " ", message), soft_wrap=True)
    return typer.Exit(code)


def warn(message: str) -> None:
    """A warning line on stderr."""
    err_console.print(styled(("warning:", "yellow"), " ", message), soft_wrap=True)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Known, user-fixable errors become one clear line and exit status 1."""
    try:
        yield
    except (ConfigError, StoreError, ValueError, FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        raise fail(str(exc)) from None


def settings(config: Path | None) -> Settings:
    with user_errors():
        return load_settings(config)


def open_store(cfg: Settings) -> Store:
    with user_errors():
        return Store(cfg.database_url, create_folders=own_folders(cfg))


def own_folders(cfg: Settings) -> tuple[Path, ...]:
    """The folders deskroute creates for a SQLite store: the configured data folder and the default one
    (where the default store lives); a store anywhere else must be in a folder that exists."""
    return (cfg.data_dir, Settings.model_fields["data_dir"].default)
