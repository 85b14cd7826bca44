#!/usr/bin/env python3
"""Accuracy of a upow model file on an IDX test set, with numpy only.

    python3 eval_model.py model.safetensors /usr/share/datasets/fashion-mnist

Loads the safetensors file that `upow-cli job weights` writes (int8
weights `layer{l}.weight`, their exponent `layer{l}.exponent`, the int16
master weights `layer{l}.master`, and a metadata header) and runs the
integer forward pass of docs/puzzle.md §10, so the accuracy is exactly
`upow-cli job eval`'s:

    a_0 = pixel >> 1
    z_l = a_l · W_l                                   (exact integers)
    a_{l+1} = min(RHU(relu(z_l), s_l), 127)            (hidden layers)
    s_l = max(0, bitlen(16 · ⌊Σ relu(z_l) / |z_l|⌋) − 7)   per chunk of `batch` rows
    prediction = first argmax of the logits z_L

The real-valued model is `W_l · 2^exponent_l` (ReLU MLP without biases);
any float framework can load it the same way.
"""
import gzip
import sys
from pathlib import Path

import numpy as np
from safetensors import safe_open


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (plain or .gz) as a uint8 array of its shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(directory: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (directory / name).exists():
            return directory / name
    raise FileNotFoundError(f"{stem}[.gz] in {directory}")


def rhu(x: np.ndarray, s: int) -> np.ndarray:
    """Round half up: (x + 2^(s-1)) >> s."""
    return x if s == 0 else (x + (1 << (s - 1))) >> s


def activation_shift(z: np.ndarray) -> int:
    mean = int(np.maximum(z, 0).sum()) // z.size
    return max(0, (16 * mean).bit_length() - 7)


def predict(weights, images: np.ndarray, batch: int) -> np.ndarray:
    out = []
    for start in range(0, len(images), batch):
        a = images[start : start + batch].reshape(-1, weights[0].shape[0]).astype(np.int64) >> 1
        for l, w in enumerate(weights):
            z = a @ w
            if l + 1 < len(weights):
                a = np.minimum(rhu(np.maximum(z, 0), activation_shift(z)), 127)
        out.append(np.argmax(z, axis=1))
    return np.concatenate(out)


def main() -> None:
    model_path, test_dir = Path(sys.argv[1]), Path(sys.argv[2])
    with safe_open(str(model_path), framework="np") as f:
        meta = f.metadata()
        dims = [int(d) for d in meta["dims"].split(",")]
        weights = [f.get_tensor(f"layer{l}.weight").astype(np.int64) for l in range(len(dims) - 1)]
        exponents = [int(f.get_tensor(f"layer{l}.exponent")[0]) for l in range(len(dims) - 1)]
    images = read_idx(find(test_dir, "t10k-images-idx3-ubyte"))
    labels = read_idx(find(test_dir, "t10k-labels-idx1-ubyte"))
    predictions = predict(weights, images, int(meta["batch"]))
    correct = int((predictions == labels).sum())
    print(f"job {meta['job']} at block {meta['block']}, model {'-'.join(map(str, dims))}, exponents {exponents}")
    print(f"accuracy {100 * correct / len(labels):.2f}% ({correct} of {len(labels)})")


if __name__ == "__main__":
    main()
