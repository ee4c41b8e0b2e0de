"""Zendesk Support: incremental exports, customer history, every action with the safe-update guard, signed
webhooks."""

from connectors.zendesk.band import DEFAULT_BAND_VALUES, band_values
from connectors.zendesk.desk import ZendeskConnector, ZendeskSettings, zendesk_signature, zendesk_tag

__all__ = [
    "DEFAULT_BAND_VALUES",
    "ZendeskConnector",
    "ZendeskSettings",
    "band_values",
    "zendesk_signature",
    "zendesk_tag",
]
