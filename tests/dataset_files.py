"""Small dataset files in the standard formats (CIFAR python pickles, ImageNet class folders of
JPEGs), written by the tests of the loaders and of the experiment configs."""

import pickle

import numpy as np
from PIL import Image


def write_cifar(root, name, n_per_file=6, seed=0):
    rng = np.random.default_rng(seed)
    if name == "cifar10":
        folder, files, key, meta = root / "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], "labels", ("batches.meta", "label_names", 10)
    else:
        folder, files, key, meta = root / "cifar-100-python", ["train", "test"], "fine_labels", ("meta", "fine_label_names", 100)
    folder.mkdir(parents=True)
    written = {}
    for f in files:
        data = rng.integers(0, 256, size=(n_per_file, 3072), dtype=np.uint8)
        labels = rng.integers(0, meta[2], size=n_per_file).tolist()
        written[f] = (data, labels)
        with open(folder / f, "wb") as handle:
            pickle.dump({"data": data, key: labels}, handle)
    with open(folder / meta[0], "wb") as handle:
        pickle.dump({meta[1]: [f"class{i}" for i in range(meta[2])]}, handle)
    return written


def write_imagenet(root, classes=("n01440764", "n01443537"), per_class=3):
    rng = np.random.default_rng(1)
    for split in ("train", "val"):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / c / f"{c}_{i}.JPEG")
