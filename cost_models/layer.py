"""The shape of one layer the PE array computes, in the Eyeriss paper's notation.

Every array layer (convolution of any kind, fully connected, batched MatMul) is
described by this one immutable record: what is computed, never how.  Derived
figures are methods so that they can never disagree with the stored fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from cost_models.errors import InputError

# A layer whose MAC count exceeds this is refused before anything is allocated:
# int64 arithmetic in the cost model must never overflow (2**62 leaves headroom
# for the per-access cost multipliers).
MAX_MACS = 2**50
# Largest spatial size, channel or filter count accepted (a 16-bit shape field).
MAX_DIM = 2**16


class ShapeError(InputError):
    """A layer shape that cannot describe a real computation."""


@dataclass(frozen=True)
class LayerShape:
    """One array layer: N ifmaps of C x H x W, M filters of C/groups x R x S.

    H and W are the *unpadded* input size; ``pads`` is (top, left, bottom, right),
    as ONNX orders begin/end pads for 2-D.  C and M are totals over all groups;
    each group is an independent sub-problem of C/groups channels and M/groups
    filters.  Fully connected layers have H = W = R = S = 1.
    """

    N: int
    M: int
    C: int
    H: int
    W: int
    R: int
    S: int
    stride: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    kind: str = field(default="conv")  # conv | depthwise | fc | matmul

    def __post_init__(self) -> None:
        for name in ("N", "M", "C", "H", "W", "R", "S", "groups"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ShapeError(f"{name} must be a positive integer, got {value!r}")
            if value > MAX_DIM and name != "N" or value > MAX_DIM * 16:
                raise ShapeError(f"{name}={value} exceeds the supported maximum {MAX_DIM}")
        for name, values, low in (("stride", self.stride, 1), ("dilation", self.dilation, 1), ("pads", self.pads, 0)):
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= low for v in values):
                raise ShapeError(f"{name} must be integers >= {low}, got {values!r}")
        if len(self.stride) != 2 or len(self.dilation) != 2 or len(self.pads) != 4:
            raise ShapeError("stride and dilation take 2 values, pads 4 (top, left, bottom, right)")
        if self.C % self.groups or self.M % self.groups:
            raise ShapeError(f"groups={self.groups} must divide channels C={self.C} and filters M={self.M}")
        top, left, bottom, right = self.pads
        if (self.R - 1) * self.dilation[0] + 1 > self.H + top + bottom:
            raise ShapeError(f"filter height R={self.R} (dilation {self.dilation[0]}) is taller than the padded input {self.H + top + bottom}")
        if (self.S - 1) * self.dilation[1] + 1 > self.W + left + right:
            raise ShapeError(f"filter width S={self.S} (dilation {self.dilation[1]}) is wider than the padded input {self.W + left + right}")
        extent_h = (self.R - 1) * self.dilation[0] + 1
        extent_w = (self.S - 1) * self.dilation[1] + 1
        if max(top, bottom) >= extent_h or max(left, right) >= extent_w:
            raise ShapeError(f"pads {self.pads} must be smaller than the filter extent {extent_h}x{extent_w}")
        if self.macs() > MAX_MACS:
            raise ShapeError(f"layer has {self.macs()} MACs, more than the supported {MAX_MACS}")

    # --- derived geometry -------------------------------------------------
    @property
    def U(self) -> int:
        """Vertical stride (the paper's U)."""
        return self.stride[0]

    @property
    def Hp(self) -> int:
        """Padded ifmap height: what is stored in DRAM and the buffer."""
        return self.H + self.pads[0] + self.pads[2]

    @property
    def Wp(self) -> int:
        """Padded ifmap width."""
        return self.W + self.pads[1] + self.pads[3]

    @property
    def E(self) -> int:
        """Ofmap height."""
        return (self.Hp - (self.R - 1) * self.dilation[0] - 1) // self.stride[0] + 1

    @property
    def F(self) -> int:
        """Ofmap width."""
        return (self.Wp - (self.S - 1) * self.dilation[1] - 1) // self.stride[1] + 1

    @property
    def Cg(self) -> int:
        """Channels per group."""
        return self.C // self.groups

    @property
    def Mg(self) -> int:
        """Filters per group."""
        return self.M // self.groups

    # --- derived sizes ----------------------------------------------------
    def macs(self) -> int:
        return self.N * self.M * self.Cg * self.R * self.S * self.E * self.F

    def weights(self) -> int:
        return self.M * self.Cg * self.R * self.S

    def ifmap_size(self) -> int:
        """Unpadded input values over the batch."""
        return self.N * self.C * self.H * self.W

    def ofmap_size(self) -> int:
        return self.N * self.M * self.E * self.F

    def ifmap_read_size(self) -> int:
        """Unpadded input values the layer reads at least once: the compulsory ifmap traffic.

        Output row e reads padded rows stride*e + dilation*r (r < R), so the rows read are
        that set minus the padding, and columns likewise; the two are independent, so the
        pixels read are their product (per channel and image).  A 1x1 stride-2 conv reads a
        quarter of the pixels; a stride above the dilated filter extent skips rows and columns
        (as do dilations over a stride of 1 at the edges).  ``ifmap_size`` counts them all.
        """
        def read(size: int, pad: int, out: int, stride: int, dilation: int, taps: int) -> int:
            return len({stride * o + dilation * k - pad for o in range(out) for k in range(taps)} & set(range(size)))

        rows = read(self.H, self.pads[0], self.E, self.stride[0], self.dilation[0], self.R)
        cols = read(self.W, self.pads[1], self.F, self.stride[1], self.dilation[1], self.S)
        return self.N * self.C * rows * cols

    def as_dict(self) -> dict[str, int]:
        """The keys the inspect and compile reports share."""
        return {
            "N": self.N, "M": self.M, "C": self.C, "H": self.H, "W": self.W,
            "R": self.R, "S": self.S, "E": self.E, "F": self.F,
            "stride": list(self.stride), "groups": self.groups,
            "pads": list(self.pads), "dilation": list(self.dilation),
        }

    def with_batch(self, n: int) -> "LayerShape":
        return replace(self, N=n)
