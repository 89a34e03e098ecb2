"""``python -m mapper`` is the ``eyeriss`` command."""

from mapper.cli import main

raise SystemExit(main())
