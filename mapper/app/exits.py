"""The ``eyeriss`` exit statuses (README "Exit codes"): one place, read by the CLI and by each command."""

EXIT_OK = 0
EXIT_UNMAPPED = 1  # compiled, but incomplete: a layer has no valid mapping, or the network budget was missed
EXIT_BAD_INPUT = 2
EXIT_BUG = 3
EXIT_NOT_PROVEN = 4  # compiled, but the searches stopped far from their bounds (report.json totals.search.far)
EXIT_INTERRUPTED = 130
