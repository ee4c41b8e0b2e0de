"""Pattern recognition on ticket text: labels with calibrated confidence, abstention, and language.

``TicketClassifier`` predicts any label column (queue, priority, type, intent) from subject and body;
``LanguageDetector`` / ``detect_language`` give ISO 639-1 codes for ``Signals.language``.
"""

from router.predict.abstention import coverage_at_precision, threshold_for_precision
from router.predict.calibration import ScoreBlend, softmax
from router.predict.classifier import (
    MODEL_KIND,
    NeighbourTicket,
    TextPrediction,
    TicketClassifier,
    TicketText,
    ticket_text,
)
from router.predict.classifier_metrics import classification_metrics
from router.predict.language_detection import SUPPORTED_LANGUAGES, DetectedLanguage, LanguageDetector, detect_language

__all__ = [
    "MODEL_KIND",
    "SUPPORTED_LANGUAGES",
    "DetectedLanguage",
    "LanguageDetector",
    "NeighbourTicket",
    "ScoreBlend",
    "TextPrediction",
    "TicketClassifier",
    "TicketText",
    "classification_metrics",
    "coverage_at_precision",
    "detect_language",
    "softmax",
    "threshold_for_precision",
    "ticket_text",
]
