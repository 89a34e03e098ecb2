"""One module per ``eyeriss`` subcommand; each exposes ``register(subparsers)`` and ``run(args)``.

A command's ``run(args)`` returns the exit code.  Bad input is raised as
``cost_models.errors.InputError`` and turned into one line by ``mapper.app.cli``.
"""

COMMANDS: tuple[str, ...] = ("compile", "evaluate", "report", "inspect", "decode", "simulate", "run", "diff", "sweep")
