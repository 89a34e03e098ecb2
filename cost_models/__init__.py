"""Row-stationary cost model of Eyeriss and the compiler's shared vocabulary.

Bottom of the dependency stack: numpy only.  Layer shape, hardware
description, mapping and cost breakdown live here.
"""

from cost_models.errors import InputError
from cost_models.layer import LayerShape, ShapeError

__all__ = ["InputError", "LayerShape", "ShapeError"]
