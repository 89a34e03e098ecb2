"""``python -m mapper`` is the ``eyeriss`` command."""

from mapper.app.cli import main

raise SystemExit(main())
