"""Freshdesk (API v2): tickets by ``updated_since``, customer history, every action, shared-secret webhooks."""

from connectors.freshdesk.freshdesk_connector import FreshdeskConnector, FreshdeskSettings, outreach_tag
from connectors.freshdesk.freshdesk_records import Codes, freshdesk_tag

__all__ = ["Codes", "FreshdeskConnector", "FreshdeskSettings", "freshdesk_tag", "outreach_tag"]
