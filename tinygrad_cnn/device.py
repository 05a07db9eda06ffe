"""tc.device: "cpu", "cuda" and "cuda:0" name where a tensor lives.

A ``device`` is a ``str`` subclass whose value is "cpu" or "cuda", so it compares equal to
those strings (as the rest of the package and user code compare ``t.device == "cuda"``), and
it carries torch's ``.type`` and ``.index``. Only one GPU is used: "cuda:0" is "cuda", any
other index is an error.
"""


class device(str):  # noqa: N801 - torch's name
    """A device, from "cpu", "cuda", "cuda:0", ("cuda", 0) or another device."""

    __slots__ = ()

    def __new__(cls, type_or_name, index=None):
        if isinstance(type_or_name, device) and index is None:
            return type_or_name
        if not isinstance(type_or_name, str):
            raise TypeError(f"device() expects a string such as 'cpu' or 'cuda:0', got "
                            f"{type(type_or_name).__name__} {type_or_name!r}")
        kind, _, idx = type_or_name.partition(":")
        if idx:
            if index is not None:
                raise ValueError(f"device {type_or_name!r} already names an index; do not pass "
                                 f"index={index} too")
            if not idx.isdigit():
                raise ValueError(f"invalid device string {type_or_name!r}: expected 'cuda:0'")
            index = int(idx)
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {type_or_name!r}: expected 'cpu', 'cuda' or "
                             f"'cuda:0'")
        if index is not None and index != 0:
            raise ValueError(f"device {kind}:{index} is not available: tinygrad_cnn uses one "
                             f"device of each kind, index 0")
        return str.__new__(cls, kind)

    @property
    def type(self):
        return str(self)

    @property
    def index(self):
        return 0 if self == "cuda" else None

    def __repr__(self):
        return f"device(type='{self.type}')" if self == "cpu" else f"device(type='{self.type}', index=0)"

    def __str__(self):
        return str.__str__(self)

    __hash__ = str.__hash__

    def __eq__(self, other):
        if isinstance(other, str) and ":" in other:
            try:
                other = device(other)
            except ValueError:
                return False
        return str.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)


CPU = device("cpu")
CUDA = device("cuda")


def as_device(d):
    """The canonical device object for a name, a device, or None (cpu)."""
    if d is None:
        return CPU
    if d is CPU or d is CUDA:
        return d
    if isinstance(d, int) and not isinstance(d, bool):
        d = f"cuda:{d}"
    return CUDA if device(d) == "cuda" else CPU


def check_same_device(what, tensors):
    """The common device of ``tensors``, or an error naming both devices."""
    common = tensors[0].device
    for t in tensors[1:]:
        if t.device != common:
            raise RuntimeError(f"{what}: tensors are on different devices, '{common}' and "
                               f"'{t.device}'; move them with .to(device) first")
    return common
