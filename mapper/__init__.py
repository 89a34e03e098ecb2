"""Search, bitstreams, simulator, CLI and report: the compiler's top layer.

Library API::

    from mapper import map_layer, map_network
    result = map_layer(layer_shape, hardware, objective="energy")
"""

from mapper.network import MappedLayer, NetworkResult, choose_batch, map_network
from mapper.search import LayerResult, map_layer

__all__ = ["LayerResult", "MappedLayer", "NetworkResult", "choose_batch", "map_layer", "map_network"]
