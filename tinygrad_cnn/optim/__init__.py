"""Optimizers and learning-rate schedulers with torch.optim's names and update rules."""
from tinygrad_cnn.optim import lr_scheduler  # noqa: F401
from tinygrad_cnn.optim.adam import Adam, AdamW  # noqa: F401
from tinygrad_cnn.optim.optimizer import Optimizer  # noqa: F401
from tinygrad_cnn.optim.adaptive import Adadelta, Adagrad, RMSprop  # noqa: F401
from tinygrad_cnn.optim.sgd import SGD  # noqa: F401
