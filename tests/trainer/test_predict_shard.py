"""``torchrun -m trainer predict``: each rank predicts a shard, rank 0 writes what one process would."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.__main__ import main
from trainer.ddp import shard_bounds

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = ("pred.json", "pred.csv", "image_ids.csv")


@pytest.mark.parametrize(("n", "world", "batch"), [(25, 2, 4), (48, 2, 16), (3, 2, 4), (2, 3, 1), (0, 2, 8)])
def test_shards_are_contiguous_whole_batches_balanced_across_ranks(n, world, batch):
    bounds = [shard_bounds(n, world, r, batch) for r in range(world)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))  # contiguous, in rank order
    assert all(start % batch == 0 or start == n for start, _ in bounds)  # one process's batches
    batches = [-(-(stop - start) // batch) for start, stop in bounds]
    assert max(batches) - min(batches) <= 1 and batches == sorted(batches, reverse=True)


def _folder(tmp_path, synth_set, count):
    images, _ = synth_set
    folder = tmp_path / "photos"
    folder.mkdir()
    for p in sorted(images.glob("*.png"), key=lambda p: int(p.stem))[:count]:
        (folder / p.name).write_bytes(p.read_bytes())
    return folder


def _torchrun(folder, out, nproc, *args):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            "-m",
            "trainer",
            "predict",
            str(folder),
            "--out",
            str(out),
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        # one thread per process, like the in-process run (conftest): CPU sums depend on threads
        env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT)),
        timeout=300,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("count", "batch", "split"),
    [(24, "4", "16+9"), (2, "4", "3+0")],
    ids=["uneven-split", "a-rank-without-images"],
)
def test_torchrun_predict_writes_the_files_of_one_process(tmp_path, synth_set, capsys, count, batch, split):
    folder = _folder(tmp_path, synth_set, count)
    (folder / "broken.png").write_bytes(b"\x89PNG garbage")  # skipped, whichever rank reads it
    args = ["--model", "default", "--device", "cpu", "--batch-size", batch]
    assert main(["predict", str(folder), "--out", str(tmp_path / "one"), *args]) == 0
    assert "ranks:" not in capsys.readouterr().out  # one process: the summary is unchanged

    proc = _torchrun(folder, tmp_path / "two", 2, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in OUTPUTS:
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
    wrote = [line for line in proc.stdout.splitlines() if line.startswith("wrote ")]
    assert len(wrote) == 1  # rank 0 alone reports
    counts = re.search(r"ranks: (\d+)\+(\d+) images", wrote[0])
    assert counts and f"{counts[1]}+{counts[2]}" == split
    assert int(counts[1]) + int(counts[2]) == count + 1
    assert proc.stderr.count("warning: skipped unreadable image broken.png") == 1
