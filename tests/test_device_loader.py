"""The device-resident data path: the same crops and flips as torchvision's transforms (pixel for
pixel, and in distribution), bit-reproducible per seed, DDP shards that partition the epoch, and
the same normalised images as the DataLoader path."""

import numpy as np
import pytest
import torch
from scipy import stats
from torchvision import transforms
from torchvision.transforms import functional as TF

from spr_or.data import load_datasets
from spr_or.data.batched_augment import ImageAugment, crop_flip
from spr_or.data.device_loader import DeviceLoader
from spr_or.data.tensor_splits import TensorSplit, tensor_split
from tests.dataset_files import write_cifar

PLAIN = ImageAugment(pad=4, flip=True, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


def test_crop_flip_cuts_the_pixels_torchvision_cuts():
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, size=(40, 3, 32, 32), dtype=np.uint8))
    top, left = torch.randint(0, 9, (40,)), torch.randint(0, 9, (40,))
    flip = torch.rand(40) < 0.5
    out = crop_flip(images, 4, top, left, flip)
    for i in range(40):
        expected = TF.crop(TF.pad(images[i], [4]), int(top[i]), int(left[i]), 32, 32)
        if flip[i]:
            expected = TF.hflip(expected)
        assert torch.equal(out[i], expected)


def _probe_images(count):
    """Images whose pixels say where they are: channel 0 = row + 1, channel 1 = column + 1."""
    rows = torch.arange(1, 33, dtype=torch.uint8).view(32, 1).expand(32, 32)
    image = torch.stack([rows, rows.T, torch.zeros_like(rows)])
    return image.expand(count, 3, 32, 32).contiguous()


def _identify(batch_uint8):
    """(top, left, flip) of crops of probe images, read off the two central pixels (always inside)."""
    row_value = batch_uint8[:, 0, 16, 16].long()
    column_here, column_next = batch_uint8[:, 1, 16, 16].long(), batch_uint8[:, 1, 16, 17].long()
    flip = column_next < column_here
    top = row_value - 1 + 4 - 16
    left = torch.where(flip, column_here - 1 + 4 - 31 + 16, column_here - 1 + 4 - 16)
    return top * 18 + left * 2 + flip.long()  # one cell of 9 x 9 x 2


def test_crop_and_flip_distribution_equals_torchvision():
    count = 8100  # 50 per cell
    split = TensorSplit(_probe_images(count), torch.zeros(count, dtype=torch.long), PLAIN)
    ours = torch.cat([torch.round(x * 255).to(torch.uint8) for x, _ in DeviceLoader(split, 1000, seed=3)])
    torch.manual_seed(4)
    tv = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()])
    probe = _probe_images(1)[0]
    theirs = torch.stack([tv(probe) for _ in range(count)])
    ours_cells = np.bincount(_identify(ours).numpy(), minlength=162)
    theirs_cells = np.bincount(_identify(theirs).numpy(), minlength=162)
    assert ours_cells.sum() == theirs_cells.sum() == count and (ours_cells > 0).all()
    # each uniform over the 162 (top, left, flip) cells, and the two alike
    assert stats.chisquare(ours_cells).pvalue > 1e-3
    assert stats.chisquare(theirs_cells).pvalue > 1e-3
    assert stats.chi2_contingency(np.stack([ours_cells, theirs_cells])).pvalue > 1e-3
    # ... and a wrong augmentation (offsets on 0..7) would be caught
    assert stats.chisquare(np.bincount(np.minimum(_identify(ours).numpy(), 143), minlength=162)).pvalue < 1e-6


def _split(count=300, seed=0):
    rng = np.random.default_rng(seed)
    images = torch.from_numpy(rng.integers(0, 256, size=(count, 3, 32, 32), dtype=np.uint8))
    return TensorSplit(images, torch.arange(count), ImageAugment(pad=4, flip=True, mean=(0.5, 0.4, 0.3),
                                                                 std=(0.2, 0.25, 0.3)))


def test_same_seed_same_batches_other_seed_other_batches():
    split = _split()
    first = [(x.clone(), y.clone()) for x, y in DeviceLoader(split, 64, seed=7)]
    again = list(DeviceLoader(split, 64, seed=7))
    other = list(DeviceLoader(split, 64, seed=8))
    assert len(first) == 5 and all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, again))
    assert not torch.equal(first[0][1], other[0][1])
    assert sorted(torch.cat([y for _, y in first]).tolist()) == list(range(300))  # a permutation


def test_ddp_shards_partition_the_epoch_and_keep_each_sample_augmentation():
    split = _split(count=301)
    alone = list(DeviceLoader(split, 1000, seed=5))[0]
    shards = [list(DeviceLoader(split, 1000, seed=5, rank=r, world_size=2))[0] for r in (0, 1)]
    assert len(shards[0][1]) == len(shards[1][1]) == 151  # padded to a multiple of the world size
    # position p of the (padded) epoch goes to rank p % 2, with the same crop, flip and sample
    for rank, (x, y) in enumerate(shards):
        positions = torch.arange(rank, 302, 2)
        real = positions < 301
        assert torch.equal(y[real], alone[1][positions[real]])
        assert torch.equal(x[real], alone[0][positions[real]])
    assert len(set(torch.cat([shards[0][1], shards[1][1]]).tolist())) == 301
    test_shards = [torch.cat([y for _, y in DeviceLoader(split, 50, None, r, 2)]) for r in (0, 1)]
    assert test_shards[0].tolist() == list(range(0, 301, 2)) and test_shards[1].tolist() == list(range(1, 301, 2))


def test_device_and_dataloader_paths_give_the_same_test_images(tmp_path):
    write_cifar(tmp_path, "cifar10", n_per_file=20)
    bundle = load_datasets("cifar10", tmp_path, augment=True)
    split = tensor_split("cifar10", bundle.test, train=False)
    ours_x, ours_y = next(iter(DeviceLoader(split, 20)))
    theirs_x, theirs_y = next(iter(torch.utils.data.DataLoader(bundle.test, batch_size=20)))
    assert torch.equal(ours_y, theirs_y)
    assert torch.allclose(ours_x, theirs_x, atol=1e-6)
    train = tensor_split("cifar10", bundle.train, train=True)
    assert train.augment.pad == 4 and train.augment.flip and train.inputs.dtype == torch.uint8
    assert train.inputs.shape == (100, 3, 32, 32)


def test_loader_device_refuses_a_dataset_read_from_files(tmp_path):
    from spr_or.pruning import load_config
    from spr_or.pruning.pipeline import PruningRun
    from tests.dataset_files import write_imagenet

    write_imagenet(tmp_path)
    config = load_config(None, ["data.dataset=imagenet", f"data.data_dir={tmp_path}", "data.loader=device",
                                "model=cnn_digits"])
    with pytest.raises(ValueError, match="data.loader: 'device'.*imagenet.*data.loader=torch"):
        PruningRun(config, tmp_path / "run", show_progress=False)


def test_a_split_too_large_for_the_device_stops_or_falls_back(tmp_path, monkeypatch):
    from spr_or.data import device_loader
    from spr_or.pruning import load_config
    from spr_or.pruning.pipeline import PruningRun
    from tests.pipeline_helpers import TINY

    monkeypatch.setattr(device_loader, "free_memory_bytes", lambda device: 1000)
    with pytest.raises(ValueError, match=r"data.loader: the digits splits do not fit on the device \(0 MiB of data, "
                                         r"0 MiB free on cpu"):
        PruningRun(load_config(None, TINY + ["data.loader=device"]), tmp_path / "a", show_progress=False)
    run = PruningRun(load_config(None, TINY), tmp_path / "b", show_progress=False)  # auto: the DataLoader path
    assert run.splits is None
    monkeypatch.setattr(device_loader, "free_memory_bytes", lambda device: 1 << 40)
    assert PruningRun(load_config(None, TINY), tmp_path / "c", show_progress=False).splits is not None


def test_a_resumed_run_keeps_the_data_path_it_started_with(tmp_path, monkeypatch):
    from spr_or.data import device_loader
    from spr_or.pruning import load_config
    from spr_or.pruning.config import ConfigError
    from spr_or.pruning.pipeline import PruningRun
    from tests.pipeline_helpers import TINY

    run = PruningRun(load_config(None, TINY), tmp_path / "a", show_progress=False)
    assert run.splits is not None and run.state.data_loader == "device"
    run._keep_data_path("torch")  # a checkpoint from the DataLoader path (or from before data.loader)
    assert run.splits is None and run.state.data_loader == "torch"
    monkeypatch.setattr(device_loader, "free_memory_bytes", lambda device: 1000)
    small = PruningRun(load_config(None, TINY), tmp_path / "b", show_progress=False)
    with pytest.raises(ConfigError, match="--resume: .* started on the device-resident data path"):
        small._keep_data_path("device")
