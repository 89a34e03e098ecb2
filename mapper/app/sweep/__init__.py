"""Design-space exploration: hardware points x networks, each layer's mapping proven optimal.

``spec`` reads and checks the YAML, ``points`` expands it into validated
hardware, ``run`` solves the distinct layer searches once (on an
``executors`` back end, through the result cache) and compiles each point,
``pareto`` marks the front, ``plots`` draws it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def sweep(spec: Any, outdir: str | Path | None = None, **options: Any):
    """Run a sweep: ``spec`` is a spec file's path, a parsed dict (paths relative to the cwd) or a ``Spec``."""
    from mapper.app.sweep.run import sweep as run
    from mapper.app.sweep.spec import Spec, load_spec, spec_from_dict

    if isinstance(spec, dict):
        spec = spec_from_dict(spec, Path.cwd(), "sweep spec")
    elif not isinstance(spec, Spec):
        spec = load_spec(spec)
    return run(spec, outdir, **options)
