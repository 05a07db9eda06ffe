"""Parameter: a Tensor that a Module registers as a learnable weight."""
import numpy as np

from tinygrad_cnn.tensor import FLOAT_TYPES, Tensor, VersionCounter


class Parameter(Tensor):
    """A float Tensor with requires_grad=True that Modules collect in parameters().

    Built from a Tensor it shares that tensor's storage and keeps its float dtype; other data
    follows Tensor's rules (floats become float32, integers are converted to float32).
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty((0,), np.float32)
        if not isinstance(data, Tensor):
            data = Tensor(data)  # Tensor's rules: floats default to float32
        # share the storage, as torch.nn.Parameter(tensor) does
        array = data._array
        if data.dtype not in FLOAT_TYPES:
            array = data.backend.astype(array, np.float32)
        self._array, self.device = array, data.device
        self.grad, self._ctx = None, None
        shares = array is data._array
        self._version_counter = data._version_counter if shares else VersionCounter()
        self._base = self._view_version = self._post_accumulate_hooks = None
        self.requires_grad = bool(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
