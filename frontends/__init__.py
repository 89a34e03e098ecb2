"""ONNX -> layer graph (networkx) of array layers and host operations."""
