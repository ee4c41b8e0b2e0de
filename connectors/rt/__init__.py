"""Request Tracker 5 (REST 2): pull by ``LastUpdated``, customer history, every action, idempotently."""

from connectors.rt.connector import RTConnector, RTSettings
from connectors.rt.vocabulary import PriorityScale, Vocabulary, VocabularyError

__all__ = ["PriorityScale", "RTConnector", "RTSettings", "Vocabulary", "VocabularyError"]
