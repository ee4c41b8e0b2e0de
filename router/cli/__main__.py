"""``python -m router.cli``: the same as the ``deskroute`` command."""

from router.cli import main

main()
