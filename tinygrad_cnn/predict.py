"""Classify image files with a trained model: ``python -m tinygrad_cnn predict --checkpoint ...``.

``load_trained(path)`` rebuilds the model a training checkpoint holds (its architecture
comes from the checkpoint); ``classify(model, images)`` gives the top-k classes with their
probabilities; ``predict_files`` runs both on image files prepared by preprocess.py.
"""
import json
import sys
from pathlib import Path

import numpy as np

import tinygrad_cnn as tc
from tinygrad_cnn import checkpoint, safetensors_io
from tinygrad_cnn.checkpoint import CheckpointError
from tinygrad_cnn.preprocess import ImageError, load_digit
from tinygrad_cnn.train_records import CHECKPOINT_FORMAT, latest_checkpoint


def class_names(dataset):
    """The class labels of a --dataset name (digits for MNIST and the sample)."""
    if dataset == "fashion-mnist":
        # late: the data package (and its downloader) loads only for Fashion-MNIST runs
        from tinygrad_cnn.data import FashionMNIST

        return list(FashionMNIST.classes)
    return [str(d) for d in range(10)]


def resolve_checkpoint(path):
    """A checkpoint file, or the latest one in a run directory."""
    path = Path(path)
    if path.is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise FileNotFoundError(f"{path} holds no checkpoint_epoch*.tgc files")
        return found
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    return path


def load_trained(path, model_name=None):
    """(model in eval mode, info dict) from a training checkpoint (.tgc) or run directory.

    A .safetensors file holds weights only, so it needs ``model_name`` (a get_model name).
    info has "model", "dataset", "epoch" and "classes".
    """
    # late: tinygrad_cnn.models re-exports this module's helpers, so it imports this module
    from tinygrad_cnn.models import get_model

    path = resolve_checkpoint(path)
    state = checkpoint.load(path)
    if path.suffix.lower() == ".safetensors":
        meta = safetensors_io.metadata(path)    # the train command writes model and dataset
        model_name = model_name or meta.get("model")
        if model_name is None:
            raise ValueError(f"{path} holds weights only: name the architecture with --model, "
                             f"or pass the training checkpoint (checkpoint_epochNNN.tgc)")
        info = {"model": model_name, "dataset": meta.get("dataset", "mnist"), "epoch": None,
                "weights": state}
    elif isinstance(state, dict) and state.get("format") == CHECKPOINT_FORMAT:
        info = {"model": state["model_name"], "dataset": state["config"].get("dataset", "mnist"),
                "epoch": state["epoch"], "weights": state["model"]}
    else:
        raise ValueError(f"{path} is not a tinygrad_cnn training checkpoint (written by "
                         f"python -m tinygrad_cnn train)")
    model = get_model(info["model"])
    model.load_state_dict(info.pop("weights"))
    info["classes"] = class_names(info["dataset"])
    return model.eval(), info


def classify(model, images, k=3, classes=None):
    """Top-k (class index, label, probability) per image of an (N, 1, 28, 28) batch."""
    with tc.no_grad():
        probs = model.eval()(tc.Tensor(np.asarray(images, np.float32))).softmax(dim=1).numpy()
    classes = classes or [str(c) for c in range(probs.shape[1])]
    k = min(k, probs.shape[1])
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [[(int(c), classes[c], float(p[c])) for c in row] for row, p in zip(top, probs)]


def predict_files(model, paths, k=3, classes=None):
    """[(path, top-k)] for image files; ImageError names the first unreadable one."""
    images = np.stack([load_digit(p) for p in paths])         # (N, 1, 28, 28)
    return list(zip(paths, classify(model, images, k, classes)))


def add_parser(sub):
    p = sub.add_parser("predict", help="classify image files with a trained model")
    p.add_argument("--checkpoint", required=True,
                   help="a training checkpoint (.tgc) or run directory (its latest checkpoint)")
    p.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...): any size or mode")
    p.add_argument("--model", default=None,
                   help="architecture, needed only for a weights-only .safetensors file")
    p.add_argument("--top", type=int, default=3, help="how many classes to show (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    return p


def run(args, out=None, err=None):
    """The predict command; returns the exit status."""
    out, err = out or sys.stdout, err or sys.stderr
    if args.top < 1:
        print(f"error: --top must be >= 1, got {args.top}", file=err)
        return 2
    try:
        model, info = load_trained(args.checkpoint, args.model)
        results = predict_files(model, args.images, args.top, info["classes"])
    except (ImageError, CheckpointError, FileNotFoundError, ValueError, ImportError) as e:
        print(f"error: {e}", file=err)
        return 1
    if args.json:
        doc = [{"file": str(path), "top": [{"class": c, "label": label, "probability": p}
                                           for c, label, p in top]} for path, top in results]
        print(json.dumps(doc, indent=2), file=out)
    else:
        for path, top in results:
            print(f"{path}: " + ", ".join(f"{label} ({p:.3f})" for _, label, p in top), file=out)
    return 0
