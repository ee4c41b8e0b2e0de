"""Language detection for ticket text: ISO 639-1 codes for ``Signals.language``, offline, with lingua.

The detector is built from a restricted set of languages: fewer candidates make it faster and more accurate
on short texts. ``SUPPORTED_LANGUAGES`` is the default set (the languages most helpdesks in Europe and the
Americas receive, plus the main non-Latin scripts, which lingua tells apart by script almost for free).
Deployments that receive other languages pass their own list of ISO 639-1 codes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import LanguageDetector as _LinguaDetector

# ISO 639-1 codes. Latin script: English, German, French, Spanish, Portuguese, Italian, Dutch, Polish, Swedish,
# Danish, Norwegian Bokmål, Finnish, Czech, Romanian, Turkish. Other scripts: Russian, Ukrainian, Greek, Arabic,
# Hebrew, Hindi, Chinese, Japanese, Korean.
SUPPORTED_LANGUAGES: tuple[str, ...] = (
    "en",
    "de",
    "fr",
    "es",
    "pt",
    "it",
    "nl",
    "pl",
    "sv",
    "da",
    "nb",
    "fi",
    "cs",
    "ro",
    "tr",
    "ru",
    "uk",
    "el",
    "ar",
    "he",
    "hi",
    "zh",
    "ja",
    "ko",
)

# Detection reads at most this many characters: a ticket's language shows in its first paragraph, and long
# quoted threads only cost time.
MAX_CHARS = 1000


@dataclass(frozen=True)
class DetectedLanguage:
    """The most likely language of a text and lingua's confidence in it (0–1)."""

    code: str
    confidence: float


class LanguageDetector:
    """Detects the language of ticket texts among a fixed set of ISO 639-1 codes; built lazily, thread-safe."""

    def __init__(self, languages: Sequence[str] = SUPPORTED_LANGUAGES, *, min_confidence: float = 0.0):
        codes = [c.strip().lower() for c in languages if c.strip()]
        if len(set(codes)) < 2:
            raise ValueError("language detection needs at least two distinct languages (ISO 639-1 codes)")
        self.languages = tuple(dict.fromkeys(codes))
        self.min_confidence = min_confidence
        self._detector: _LinguaDetector | None = None
        self._lock = threading.Lock()
        # Wall seconds spent detecting and texts detected since creation (latency reports read the difference).
        self.seconds = 0.0
        self.detected = 0
        # The last texts asked about and what was found (replaced as one tuple, so threads see either whole).
        self._last: tuple[tuple[str, ...], tuple[DetectedLanguage | None, ...]] | None = None

    def _lingua(self) -> _LinguaDetector:
        if self._detector is None:
            with self._lock:
                if self._detector is None:
                    from lingua import IsoCode639_1, LanguageDetectorBuilder

                    isos = []
                    for code in self.languages:
                        try:
                            isos.append(getattr(IsoCode639_1, code.upper()))
                        except AttributeError:
                            raise ValueError(f"language {code!r} is not an ISO 639-1 code lingua knows") from None
                    self._detector = LanguageDetectorBuilder.from_iso_codes_639_1(*isos).build()
        return self._detector

    def detect(self, text: str) -> DetectedLanguage | None:
        """The language of one text, or None when the text is empty or too ambiguous."""
        return self.detect_many([text])[0]

    def detect_many(self, texts: Sequence[str]) -> list[DetectedLanguage | None]:
        """The language of each text (None for an empty or ambiguous one)."""
        detector = self._lingua()
        started = time.perf_counter()
        key = tuple((t or "")[:MAX_CHARS] for t in texts)  # what is detected: bounded, whatever comes in
        last = self._last
        if last is not None and last[0] == key:
            # The intent and urgency models each ask about the same texts in turn.
            return list(last[1])
        try:
            found = self._detect(detector, texts)
            self._last = (key, tuple(found))
            return found
        finally:
            self.seconds += time.perf_counter() - started
            self.detected += len(texts)

    def _detect(self, detector: _LinguaDetector, texts: Sequence[str]) -> list[DetectedLanguage | None]:
        clipped = [(t or "")[:MAX_CHARS] for t in texts]
        found: list[DetectedLanguage | None] = [None] * len(clipped)
        todo = [i for i, t in enumerate(clipped) if any(ch.isalpha() for ch in t)]
        if not todo:
            return found
        if len(todo) == 1:
            # One text (a ticket routed alone): detected in this thread. Handing it to lingua's thread pool costs a
            # wake-up that on busy cores waits for a time slice; the confidences agree to 1e-15 (checked on the
            # sample's 500 tickets in docs/speed.md).
            values = [detector.compute_language_confidence_values(clipped[todo[0]])]
        else:
            # One call for the whole batch: lingua spreads it over threads outside the GIL.
            values = detector.compute_language_confidence_values_in_parallel([clipped[i] for i in todo])
        for i, confidences in zip(todo, values, strict=True):
            if not confidences:
                continue
            best = confidences[0]
            if best.value <= 0.0 or best.value < self.min_confidence:
                continue
            found[i] = DetectedLanguage(best.language.iso_code_639_1.name.lower(), float(best.value))
        return found


_default: LanguageDetector | None = None
_default_lock = threading.Lock()


def default_detector() -> LanguageDetector:
    """The process-wide detector over :data:`SUPPORTED_LANGUAGES` (its models load on first use)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = LanguageDetector()
    return _default


def detect_ticket_languages(tickets: Sequence[tuple[str | None, str | None]]) -> list[DetectedLanguage | None]:
    """The language of each (subject, body) ticket, read from both together."""
    return default_detector().detect_many([f"{subject or ''}\n{body or ''}" for subject, body in tickets])


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of a text's language among the supported ones, or None when unknown."""
    found = default_detector().detect(text)
    return found.code if found else None
