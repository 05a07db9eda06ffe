"""The training loop behind ``python -m tinygrad_cnn train``: fit, evaluate, checkpoint, resume."""
import csv
import dataclasses
import io
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path


import tinygrad_cnn as tc
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import checkpoint, optim
from tinygrad_cnn.atomic_file import atomic_write
from tinygrad_cnn.models import GoogLeNetOutputs, get_model

CHECKPOINT_FORMAT = "tinygrad_cnn.train/1"


@dataclass
class TrainConfig:
    """Everything a run depends on; saved in each checkpoint and in metrics.json."""
    model: str = "simple-cnn"
    dataset: str = "mnist"
    epochs: int = 15
    batch_size: int = 100
    lr: float = 1e-3
    optimizer: str = "adam"
    seed: int = 777
    device: str = "cpu"
    out: str = "runs/simple-cnn"
    data_dir: str = None
    steps_per_epoch: int = None       # cut epochs short (quick demos and tests)
    resume: bool = False
    progress: bool = True
    plots: bool = True


# ---- data --------------------------------------------------------------------------
def load_datasets(name, data_dir=None, log=print):
    """(train, test) datasets for a --dataset name, saying which data is used and why."""
    from tinygrad_cnn import data

    if name == "mnist-sample":
        log("dataset: the bundled MNIST sample (4,000 train / 1,000 held-out real digits)")
        return data.MNISTSample(train=True), data.MNISTSample(train=False)
    if name == "fashion-mnist":
        train = data.FashionMNIST(root=data_dir, train=True)
        log(f"dataset: Fashion-MNIST, {train.source}")
        return train, data.FashionMNIST(root=data_dir, train=False)
    if name != "mnist":
        raise ValueError(f"unknown dataset {name!r}; choose mnist, fashion-mnist or mnist-sample")
    try:
        train = data.MNIST(root=data_dir, train=True)
        test = data.MNIST(root=data_dir, train=False)
    except (data.DatasetNotFoundError, data.DownloadError, OSError) as err:
        why = " ".join(line.strip() for line in str(err).strip().splitlines()[:2])
        log(f"dataset: full MNIST is not available ({why}); falling back to the bundled "
            f"5,000-digit MNIST sample. Place the IDX files by hand or pass --data-dir to "
            f"train on all 60,000 digits.")
        return data.MNISTSample(train=True), data.MNISTSample(train=False)
    log(f"dataset: full MNIST, {train.source}")
    return train, test


# ---- optimisation ------------------------------------------------------------------
def make_optimizer(name, params, lr):
    """An optimizer by its command-line name: adam, adamw or sgd (momentum 0.9)."""
    if name == "adam":
        return optim.Adam(params, lr=lr)
    if name == "adamw":
        return optim.AdamW(params, lr=lr)
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9)
    raise ValueError(f"unknown optimizer {name!r}; choose adam, adamw or sgd")


def training_loss(output, labels):
    """(logits, loss) of a training forward. GoogLeNet's training output also carries its
    auxiliary logits: loss + 0.3 * (aux1 + aux2), torchvision's reference recipe."""
    if isinstance(output, GoogLeNetOutputs):
        aux = F.cross_entropy(output.aux_logits1, labels) + F.cross_entropy(output.aux_logits2,
                                                                            labels)
        return output.logits, F.cross_entropy(output.logits, labels) + aux * 0.3
    return output, F.cross_entropy(output, labels)


def train_step(model, opt, images, labels):
    """One forward, loss, backward and update; returns (loss, correct predictions)."""
    opt.zero_grad()
    logits, loss = training_loss(model(images), labels)
    loss.backward()
    opt.step()
    correct = int((logits.numpy().argmax(axis=1) == labels.numpy()).sum())
    return loss.item(), correct


@tc.no_grad()
def evaluate(model, loader, device="cpu"):
    """(mean loss, accuracy) over a loader, in eval mode and without recording a graph."""
    was_training = model.training
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        logits = model(images)
        total_loss += F.cross_entropy(logits, labels, reduction="sum").item()
        correct += int((logits.numpy().argmax(axis=1) == labels.numpy()).sum())
        seen += labels.shape[0]
    model.train(was_training)
    return total_loss / max(seen, 1), correct / max(seen, 1)


def _progress(iterable, total, desc, enabled):
    """A tqdm bar when tqdm is installed and wanted, else the plain iterable."""
    if enabled:
        try:
            from tqdm import tqdm

            return tqdm(iterable, total=total, desc=desc, unit="batch", leave=True,
                        dynamic_ncols=True, file=sys.stdout)
        except ImportError:
            pass
    return iterable


def train_epoch(model, opt, loader, epoch, config):
    """One pass over the training data; returns (mean loss, accuracy, images/s)."""
    model.train()
    steps = len(loader) if config.steps_per_epoch is None else min(len(loader), config.steps_per_epoch)
    bar = _progress(iter(loader), steps, f"epoch {epoch}/{config.epochs}", config.progress)
    total_loss, correct, seen, start = 0.0, 0, 0, time.perf_counter()
    for step, (images, labels) in enumerate(bar):
        if step >= steps:
            break
        images, labels = images.to(config.device), labels.to(config.device)
        loss, hits = train_step(model, opt, images, labels)
        n = labels.shape[0]
        total_loss, correct, seen = total_loss + loss * n, correct + hits, seen + n
        rate = seen / (time.perf_counter() - start)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.4f}",
                            img_s=f"{rate:,.0f}")
    if hasattr(bar, "close"):
        bar.close()
    elapsed = time.perf_counter() - start
    return total_loss / max(seen, 1), correct / max(seen, 1), seen / elapsed, elapsed


# ---- checkpoints -------------------------------------------------------------------
def checkpoint_path(out, epoch):
    return Path(out) / f"checkpoint_epoch{epoch:03d}.tgc"


def latest_checkpoint(out):
    """The checkpoint of the highest epoch in ``out``, or None."""
    found = sorted(Path(out).glob("checkpoint_epoch*.tgc"))
    return found[-1] if found else None


def save_checkpoint(path, config, model, opt, loader, epoch, history):
    """Model, optimizer, epoch, RNG states and history, written atomically without pickle."""
    checkpoint.save({
        "format": CHECKPOINT_FORMAT,
        "model_name": config.model,
        "config": dataclasses.asdict(config),
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "rng": tc.get_rng_state(),
        "loader": loader.state_dict(),
        "history": history,
    }, path)


def load_checkpoint(path, config, model, opt, loader):
    """Restore a run; refuses a checkpoint of another format or architecture."""
    state = checkpoint.load(path)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a tinygrad_cnn training checkpoint")
    if state["model_name"] != config.model:
        raise ValueError(f"{path} holds a {state['model_name']!r} model, but this run trains "
                         f"{config.model!r}; use another --out or the matching --model")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    tc.set_rng_state(state["rng"])
    loader.load_state_dict(state["loader"])
    return state["epoch"], list(state["history"])


# ---- records -----------------------------------------------------------------------
def write_metrics(out, config, history):
    """metrics.csv (one row per epoch) and metrics.json (config + history), each replaced atomically."""
    out = Path(out)
    if history:
        rows = io.StringIO()
        writer = csv.DictWriter(rows, fieldnames=list(history[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)
        _replace_text(out / "metrics.csv", rows.getvalue())
    doc = {"config": dataclasses.asdict(config), "history": history}
    _replace_text(out / "metrics.json", json.dumps(doc, indent=2))


def _replace_text(path, text):
    """Replace ``path`` atomically, so readers (and Ctrl-C) never see half a file."""
    with atomic_write(path) as f:
        f.write(text.encode("utf-8"))


def fit(config, log=print):
    """Train ``config.model`` on ``config.dataset``; returns the per-epoch history."""
    from tinygrad_cnn.data import DataLoader

    Path(config.out).mkdir(parents=True, exist_ok=True)
    tc.manual_seed(config.seed)
    train_set, test_set = load_datasets(config.dataset, config.data_dir, log)
    model = get_model(config.model).to(config.device)
    opt = make_optimizer(config.optimizer, model.parameters(), config.lr)
    train_loader = DataLoader(train_set, config.batch_size, shuffle=True, seed=config.seed)
    test_loader = DataLoader(test_set, 1000)
    start_epoch, history = 0, []
    last = latest_checkpoint(config.out)
    if last is not None and not config.resume:
        raise FileExistsError(f"{config.out} already holds checkpoints (latest {last.name}): "
                              f"resume that run, or choose another output directory")
    if last is not None:
        start_epoch, history = load_checkpoint(last, config, model, opt, train_loader)
        log(f"resuming from {last} (epoch {start_epoch} done)")
    elif config.resume:
        log(f"no checkpoint in {config.out} yet: starting a fresh run")
    log(f"model: {config.model}, {sum(p.numel() for p in model.parameters()):,} parameters; "
        f"{len(train_set):,} train / {len(test_set):,} test images; output in {config.out}")
    for epoch in range(start_epoch + 1, config.epochs + 1):
        loss, acc, rate, seconds = train_epoch(model, opt, train_loader, epoch, config)
        test_loss, test_acc = evaluate(model, test_loader, config.device)
        history.append({"epoch": epoch, "train_loss": loss, "train_acc": acc,
                        "test_loss": test_loss, "test_acc": test_acc,
                        "seconds": seconds, "images_per_s": rate})
        log(f"epoch {epoch}: train loss {loss:.4f} acc {acc:.4f} | test loss {test_loss:.4f} "
            f"acc {test_acc:.4f} | {seconds:.1f} s, {rate:,.0f} images/s")
        save_checkpoint(checkpoint_path(config.out, epoch), config, model, opt, train_loader,
                        epoch, history)
        write_metrics(config.out, config, history)
    if config.plots and history:
        _plots(config, model, test_set, history, log)
    return history


def _plots(config, model, test_set, history, log):
    try:
        from tinygrad_cnn import viz
    except ImportError:
        log("plots skipped: matplotlib is not installed (pip install 'tinygrad-cnn[train]')")
        return
    paths = viz.save_run_plots(config.out, model, test_set, history)
    log("plots: " + ", ".join(os.fspath(p) for p in paths))
