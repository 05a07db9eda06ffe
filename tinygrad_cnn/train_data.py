"""Which data a training run uses: ``load_datasets`` for a --dataset name, falling back to
the bundled MNIST sample when full MNIST cannot be had, and saying why."""
import os

from tinygrad_cnn import data
from tinygrad_cnn.train_guards import TrainError


def load_datasets(name, data_dir=None, log=print, record=None):
    """(train, test) datasets for a --dataset name, saying which data is used and why.

    `record`, a dict when given, receives "dataset" (what is used), "dataset_requested",
    "dataset_source" and "dataset_reason", for metrics.json and the checkpoints."""
    record = {} if record is None else record
    record.update(dataset=name, dataset_requested=name)
    if name == "mnist-sample":
        log("dataset: the bundled MNIST sample (4,000 train / 1,000 held-out real digits)")
        train, test = data.MNISTSample(train=True), data.MNISTSample(train=False)
        return _recorded(record, train, test, "--dataset mnist-sample was asked for")
    if name not in ("mnist", "fashion-mnist"):
        raise ValueError(f"unknown dataset {name!r}; choose mnist, fashion-mnist or mnist-sample")
    kind = data.MNIST if name == "mnist" else data.FashionMNIST
    fresh_dir = data_dir is not None and not os.path.exists(data_dir)
    if data_dir is not None and not fresh_dir and not os.path.isdir(data_dir):
        raise TrainError(f"--data-dir {data_dir} is a file, not a directory: pass the directory "
                         f"that holds (or should hold) the {kind.name} IDX files")
    if fresh_dir and kind.missing_files(data_dir):
        log(f"dataset: --data-dir {data_dir} does not exist: downloading {kind.name} into it")
    elif fresh_dir:
        log(f"dataset: --data-dir {data_dir} does not exist, but the {kind.name} files were "
            f"found elsewhere (below)")
    try:
        train, test = kind(root=data_dir, train=True), kind(root=data_dir, train=False)
    except data.IDXFormatError as err:
        raise TrainError(f"{err}: delete or replace that file (a deleted file is downloaded "
                         f"again)") from err
    except (data.DatasetNotFoundError, data.DownloadError, OSError) as err:
        why = _first_reason(err)
        if name == "fashion-mnist" or fresh_dir:
            target = data_dir or kind.download_dir(None)
            raise TrainError(f"{kind.name} is not available ({why}): put its 4 IDX .gz files "
                             f"in {target} (created if need be) and run again"
                             + (", or pass --dataset mnist-sample" if name == "mnist" else "")) from err
        reason = (f"full MNIST is not available ({why}); falling back to the bundled 5,000-digit "
                  f"MNIST sample")
        log(f"dataset: {reason}. Place the IDX files by hand or pass --data-dir to train on all "
            f"60,000 digits.")
        record.update(dataset="mnist-sample", dataset_reason=reason)
        return _recorded(record, data.MNISTSample(train=True), data.MNISTSample(train=False))
    log(f"dataset: {'full MNIST' if name == 'mnist' else kind.name}, {train.source}")
    return _recorded(record, train, test, "found on disk or downloaded")


def _recorded(record, train, test, reason=None):
    record["dataset_source"] = getattr(train, "source", None)
    if reason is not None:
        record.setdefault("dataset_reason", reason)
    return train, test


def _first_reason(err):
    """One line on why a dataset could not be had: the first mirror's failure, or the error's
    first line."""
    failures = getattr(err, "failures", None)
    if failures:
        url, why = failures[0]
        more = f" (and {len(failures) - 1} more mirror(s))" if len(failures) > 1 else ""
        return f"{url}: {why}{more}"
    return " ".join(line.strip() for line in str(err).strip().splitlines()[:2])
