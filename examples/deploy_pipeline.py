"""A deployment-style use of the library: compile, hold a latency budget, ship the bitstreams.

    python examples/deploy_pipeline.py [MODEL.onnx] [--budget-ms 400] [--out build/alexnet]

1. Compile for the least energy.
2. If the network misses the latency budget, compile again with the budget
   as a constraint (energy still minimised within it); if even that fails,
   stop with exit code 1 before anything is written.
3. Save report.json and the per-layer bitstreams, and print a manifest a
   loader could consume (layer order, file, sha256).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mapper import NetworkBudgetError, compile_model  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=str(Path(__file__).with_name("alexnet.onnx")))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--budget-ms", type=float, default=400.0, help="latency budget per batch")
    parser.add_argument("--out", default="build/deploy", help="where the bitstreams go")
    args = parser.parse_args(argv)

    result = compile_model(args.model, batch=args.batch)
    latency = result.totals.latency.total_ms
    print(f"energy-optimal: {latency:.2f} ms, {result.totals.energy.per_inference_pj / 1e9:.2f} mJ/inference")
    if latency > args.budget_ms:
        print(f"over the {args.budget_ms} ms budget; compiling again with the budget as a constraint")
        try:
            result = compile_model(args.model, batch=args.batch, network_latency_ms=args.budget_ms)
        except NetworkBudgetError as error:  # the budget is below the fastest the network can run
            print(f"cannot deploy: {error}", file=sys.stderr)
            return 1
    if result.unmapped:
        for layer in result.unmapped:
            print(f"cannot deploy: {layer.name}: {layer.result.reason}", file=sys.stderr)
        return 1
    latency = result.totals.latency.total_ms
    assert latency <= args.budget_ms, "the mapper kept the budget"
    out = result.save(args.out)
    print(f"{latency:.2f} ms <= {args.budget_ms} ms budget; wrote {out}")
    for layer in result.layers:
        entry = layer.report(result.hardware)["bitstream"]
        print(f"  {layer.index:3d} {layer.name:<20} {entry['file']:<36} {entry['sha256'][:16]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
