"""What a training run writes and reads back: checkpoints (atomic, pickle-free, refused when
they hold NaN/inf or belong to another run), metrics.csv/json and model.safetensors."""
import csv
import dataclasses
import io
import json
from pathlib import Path

from tinygrad_cnn import checkpoint, safetensors_io
from tinygrad_cnn.atomic_file import atomic_write
from tinygrad_cnn.checkpoint import CheckpointError
from tinygrad_cnn.random import get_rng_state, set_rng_state
from tinygrad_cnn.train_guards import NonFiniteError, TrainError, checkpoints, first_nonfinite_weight

CHECKPOINT_FORMAT = "tinygrad_cnn.train/1"


def checkpoint_path(out, epoch):
    return Path(out) / f"checkpoint_epoch{epoch:03d}.tgc"


def latest_checkpoint(out):
    """The checkpoint of the highest epoch number in ``out``, or None."""
    found = checkpoints(out)
    return found[-1][1] if found else None


def run_record(config, record=None):
    """The config as saved: the dataclass fields, with the dataset actually used and why."""
    return {**dataclasses.asdict(config), **(record or {})}


def save_checkpoint(path, config, model, opt, loader, epoch, history, record=None):
    """Model, optimizer, epoch, RNG states and history, written atomically without pickle.

    Refuses (NonFiniteError) to write weights holding NaN or inf."""
    state = model.state_dict()
    bad = first_nonfinite_weight(state)
    if bad is not None:
        raise NonFiniteError(epoch, None, f"weight {bad[0]} holds {bad[1]}, so no checkpoint "
                             f"was written for it", skip_hint=False)
    checkpoint.save({
        "format": CHECKPOINT_FORMAT,
        "model_name": config.model,
        "config": run_record(config, record),
        "epoch": epoch,
        "model": state,
        "optimizer": opt.state_dict(),
        "rng": get_rng_state(),
        "loader": loader.state_dict(),
        "history": history,
    }, path)


def load_checkpoint(path, config, model, opt, loader, record=None):
    """Restore a run; a corrupt checkpoint, or one of another format, architecture or dataset,
    is refused with a TrainError that says what to do."""
    try:
        state = checkpoint.load(path)
    except CheckpointError as err:
        raise TrainError(f"cannot resume: {err}. Move that file away to resume from the "
                         f"checkpoint before it, or choose another --out") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise TrainError(f"{path} is not a tinygrad_cnn training checkpoint "
                         f"(format {CHECKPOINT_FORMAT}): choose another --out")
    if state.get("model_name") != config.model:
        raise TrainError(f"{path} holds a {state.get('model_name')!r} model, but this run trains "
                         f"{config.model!r}; use another --out or the matching --model")
    saved = state.get("config", {}).get("dataset") if "dataset_requested" in state.get(
        "config", {}) else None
    used = (record or {}).get("dataset")
    if saved is not None and used is not None and saved != used:
        raise TrainError(f"{path} was trained on {saved}, but this run's data is {used}; resume "
                         f"with the same data or choose another --out")
    try:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        loader.load_state_dict(state["loader"])
        return state["epoch"], list(state["history"])
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as err:
        why = " ".join(str(err).split())
        raise TrainError(f"cannot resume from {path}: it does not match this run ({why}); use "
                         f"another --out or the settings of that run") from None


def write_metrics(out, config, history, record=None):
    """metrics.csv (one row per epoch) and metrics.json (config + history), each replaced atomically."""
    out = Path(out)
    if history:
        rows = io.StringIO()
        writer = csv.DictWriter(rows, fieldnames=list(history[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)
        _replace_text(out / "metrics.csv", rows.getvalue())
    doc = {"config": run_record(config, record), "history": history}
    _replace_text(out / "metrics.json", json.dumps(doc, indent=2))


def write_weights(out, model, log=print, metadata=None):
    """model.safetensors: the latest epoch's weights, for PyTorch and other frameworks; the
    architecture and dataset go in its metadata header (what ``predict`` reads)."""
    try:
        safetensors_io.save(model.state_dict(), Path(out) / "model.safetensors", metadata)
    except ImportError as err:
        log(f"model.safetensors skipped: {err}")


def _replace_text(path, text):
    """Replace ``path`` atomically, so readers (and Ctrl-C) never see half a file."""
    with atomic_write(path) as f:
        f.write(text.encode("utf-8"))
