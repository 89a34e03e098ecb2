"""Row-stationary cost model of Eyeriss and the compiler's shared vocabulary.

Bottom of the dependency stack: numpy (and PyYAML for hardware files) only.
Layer shape, hardware description, mapping and cost breakdown live here.
"""

from cost_models.area import Area
from cost_models.cost import Cost, InvalidMapping, check, evaluate
from cost_models.errors import InputError
from cost_models.hardware import Hardware, HardwareError, default_hardware, hardware_from_dict, load_hardware
from cost_models.layer import LayerShape, ShapeError
from cost_models.mapping import Mapping, Placement, placement
from cost_models.rowstationary import DataRatios

__all__ = [
    "Area", "Cost", "DataRatios", "Hardware", "HardwareError", "InputError", "InvalidMapping", "LayerShape", "Mapping",
    "Placement", "ShapeError", "check", "default_hardware", "evaluate", "hardware_from_dict", "load_hardware",
    "placement",
]
