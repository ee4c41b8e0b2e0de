"""The HTTP service: the API, webhooks, health and metrics, on one Runtime per process (``deskroute serve``)."""

from router.service.app_factory import create_app
from router.service.scheduled_jobs import ScheduledJobs

__all__ = ["ScheduledJobs", "create_app"]
