"""Why an ONNX node runs on the host, not on the PE array.

The chip computes convolutions and matrix products on its array and applies
ReLU on the ofmap path [JSSC III-A]; it has no pooling, element-wise,
normalisation or data-movement unit, and it needs every layer's shape before
it runs.  Each host op gets one of these reasons (``inspect`` groups by them).
"""

from __future__ import annotations

import onnx

POOLING = "pooling: no weights to multiply, and the chip has no pooling unit"
ELEMENTWISE = "element-wise arithmetic: no multiply-accumulate over weights"
REDUCTION = "normalisation or reduction: no multiply-accumulate over weights"
MOVEMENT = "data movement or shape handling: no arithmetic"
QUANTIZE = "quantization step not on a layer's own input or output path"
DYNAMIC = "data-dependent control flow or output size: the array needs every layer's shape in advance"
CONSTANT = "computes only constants (nothing of it depends on the network input)"
OTHER = "not a convolution or matrix product"

_BY_OP = {
    POOLING: {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool", "GlobalLpPool", "MaxRoiPool",
              "RoiAlign", "MaxUnpool", "QLinearAveragePool", "QLinearGlobalAveragePool"},
    ELEMENTWISE: {"Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Log", "Sigmoid", "Tanh", "HardSigmoid",
                  "HardSwish", "Erf", "Gelu", "LeakyRelu", "PRelu", "Relu", "Clip", "Elu", "Selu", "Celu", "Mish",
                  "Softplus", "Softsign", "Neg", "Abs", "Max", "Min", "Sum", "Mean", "Reciprocal", "Floor", "Ceil", "Round",
                  "Sign", "Sin", "Cos", "Where", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not",
                  "And", "Or", "Xor", "Mod", "BitShift", "QLinearAdd", "QLinearMul", "QLinearSigmoid",
                  "QLinearLeakyRelu", "QLinearSoftmax", "ThresholdedRelu", "Dropout"},
    REDUCTION: {"Softmax", "LogSoftmax", "LayerNormalization", "BatchNormalization", "InstanceNormalization",
                "GroupNormalization", "LpNormalization", "LRN", "MeanVarianceNormalization", "ReduceMean",
                "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
                "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin", "CumSum", "SkipLayerNormalization"},
    MOVEMENT: {"Reshape", "Transpose", "Concat", "Split", "Slice", "Gather", "GatherElements", "GatherND", "Flatten",
               "Squeeze", "Unsqueeze", "Pad", "Resize", "Upsample", "Identity", "Cast", "CastLike", "Shape", "Size",
               "Expand", "Tile", "DepthToSpace", "SpaceToDepth", "Constant", "ConstantOfShape", "Range", "Scatter",
               "ScatterElements", "ScatterND", "QLinearConcat", "Trilu", "EyeLike", "OneHot"},
    QUANTIZE: {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"},
    DYNAMIC: {"If", "Loop", "Scan", "NonMaxSuppression", "TopK", "NonZero", "Unique", "Compress", "SequenceConstruct",
              "SequenceAt", "SplitToSequence", "ConcatFromSequence"},
}
_REASON = {op: reason for reason, ops in _BY_OP.items() for op in ops}


def host_reason(node: onnx.NodeProto, constant: bool) -> str:
    """The reason ``node`` is host work; ``constant``: none of its inputs derives from the network input."""
    if constant:
        return CONSTANT
    return _REASON.get(node.op_type, OTHER)
