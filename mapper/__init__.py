"""Search, bitstreams, simulator, CLI and report: the compiler's top layer."""
