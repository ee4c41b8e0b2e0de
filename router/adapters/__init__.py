"""The factories of deskroute's own helpdesk adapters, registered as ``deskroute.connectors`` entry points
(see :mod:`router.connector_types`), and :func:`~router.adapters.connector_factory.build_connector`, which builds
any configured connector through that registry."""
