"""``python -m tinygrad_cnn export``: a training checkpoint as ONNX or as safetensors weights.

The architecture comes from the checkpoint (predict.load_trained), so no --model is needed.
"""
import sys

import numpy as np

from tinygrad_cnn import checkpoint
from tinygrad_cnn.checkpoint import CheckpointError
from tinygrad_cnn.onnx import ExportError, export
from tinygrad_cnn.predict import load_trained


def add_parser(sub):
    p = sub.add_parser("export", help="write a training checkpoint as ONNX or safetensors")
    p.add_argument("--checkpoint", required=True,
                   help="a training checkpoint (.tgc) or run directory (its latest checkpoint)")
    p.add_argument("--format", required=True, choices=["onnx", "safetensors"])
    p.add_argument("--out", required=True, help="the file to write")
    p.add_argument("--opset", type=int, default=13, help="ONNX opset (13 to 17; default 13)")
    p.add_argument("--model", default=None,
                   help="architecture, needed only for a weights-only .safetensors checkpoint")
    return p


def run(args, out=None, err=None):
    """The export command; returns the exit status."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        model, info = load_trained(args.checkpoint, args.model)
        if args.format == "safetensors":
            if not str(args.out).lower().endswith(".safetensors"):
                raise ValueError(f"--out {args.out!r} must end in .safetensors")
            checkpoint.save(model.state_dict(), args.out)
        else:
            example = np.zeros((1, 1, 28, 28), np.float32)   # the models take 1x28x28 digits
            try:
                export(model, example, args.out, opset=args.opset)
            except ExportError as e:
                raise ValueError(f"cannot export {info['model']}: {e}") from None
    except (CheckpointError, FileNotFoundError, ValueError, ImportError) as e:
        print(f"error: {e}", file=err)
        return 1
    count = sum(p.numel() for p in model.parameters())
    epoch = f", epoch {info['epoch']}" if info["epoch"] is not None else ""
    print(f"wrote {args.out} ({args.format}; {info['model']}{epoch}, {count:,} parameters)",
          file=out)
    return 0
