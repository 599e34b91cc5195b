"""The training loop: resuming from a checkpoint equals never having stopped; the schedule; DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from core.model import LiquidLM
from core.training.pretrain import TrainSettings, batch_at, lr_at, train

from ..conftest import tiny_config

ROOT = Path(__file__).resolve().parents[3]


def settings(**over) -> TrainSettings:
    base = dict(seq_len=16, batch_size=4, total_tokens=16 * 4 * 12, lr=3e-3, warmup_steps=3, eval_every=4, eval_windows=4,
                ckpt_every=2, bf16="off")
    return TrainSettings(**{**base, **over})


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.integers(0, 300, 5000).astype(np.uint16), rng.integers(0, 300, 1000).astype(np.uint16)


def fresh_model(kind="matrix"):
    torch.manual_seed(0)
    return LiquidLM(tiny_config(kind))


def test_resume_equals_uninterrupted(tmp_path, data):
    train_data, val_data = data
    straight = fresh_model()
    st_a = train(straight, train_data, val_data, tmp_path / "a", settings(), progress=False, log=lambda m: None)

    first = fresh_model()
    train(first, train_data, val_data, tmp_path / "b", settings(), max_steps=5, progress=False, log=lambda m: None)
    resumed = fresh_model()  # a new process would start from fresh weights and read the checkpoint
    st_b = train(resumed, train_data, val_data, tmp_path / "b", settings(), progress=False, log=lambda m: None)

    assert st_a.step == st_b.step == 12
    assert st_a.tokens_seen == st_b.tokens_seen
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)
    resumed_at = {h["step"]: h["val_loss"] for h in st_b.history}  # (plus one evaluation where it stopped)
    assert all(resumed_at[h["step"]] == h["val_loss"] for h in st_a.history)
    assert len(st_b.legs) == 2


def test_a_killed_leg_is_on_record_up_to_its_last_checkpoint(tmp_path, data):
    class Killed(Exception):
        pass

    def log(message):
        if message.startswith("step 8:"):  # the evaluation before the step-8 checkpoint, then "killed"
            raise Killed

    with pytest.raises(Killed):
        train(fresh_model(), *data, tmp_path, settings(eval_every=4, ckpt_every=4), progress=False, log=log)
    legs = json.loads((tmp_path / "ckpt" / "trainer.json").read_text())["trainer"]["legs"]
    assert [(leg["start_step"], leg["end_step"]) for leg in legs] == [(0, 4)]
    st = train(fresh_model(), *data, tmp_path, settings(eval_every=4, ckpt_every=4), progress=False, log=lambda m: None)
    assert [(leg["start_step"], leg["end_step"]) for leg in st.legs] == [(0, 4), (4, 12)]


def test_checkpoint_is_plain_data(tmp_path, data):
    train(fresh_model(), *data, tmp_path, settings(total_tokens=16 * 4 * 2), progress=False, log=lambda m: None)
    meta = json.loads((tmp_path / "ckpt" / "trainer.json").read_text())
    assert meta["trainer"]["step"] == 2
    assert any(k.endswith("::exp_avg") for k in load_file(str(tmp_path / "ckpt" / "optim.safetensors")))


def test_training_lowers_the_loss(tmp_path):
    """A repeating pattern is learned within a few dozen steps."""
    pattern = np.tile(np.arange(40, dtype=np.uint16), 200)
    st = train(fresh_model("diagonal"), pattern, pattern, tmp_path, settings(total_tokens=16 * 4 * 60, eval_every=10, lr=1e-2),
               progress=False, log=lambda m: None)
    assert st.history[-1]["val_loss"] < 0.5 * st.history[0]["val_loss"]


def test_schedule_warms_up_decays_and_rewarms():
    s = settings(total_tokens=16 * 4 * 100, warmup_steps=10, rewarm_steps=5)
    assert lr_at(0, s) == pytest.approx(s.lr / 10)
    assert lr_at(9, s) == pytest.approx(s.lr)
    assert lr_at(99, s) == pytest.approx(s.lr * s.min_lr_ratio, rel=0.01)
    assert lr_at(50, s, rewarm_from=50) == pytest.approx(lr_at(50, s) / 5)
    assert lr_at(56, s, rewarm_from=50) == pytest.approx(lr_at(56, s))


def test_batches_are_a_pure_function_of_seed_step_and_rank(data):
    s = settings()
    assert torch.equal(batch_at(data[0], 7, s), batch_at(data[0], 7, s))
    assert not torch.equal(batch_at(data[0], 7, s), batch_at(data[0], 8, s))
    assert not torch.equal(batch_at(data[0], 7, s, 0), batch_at(data[0], 7, s, 1))


@pytest.mark.slow
def test_torchrun_two_processes_train_together(tmp_path, data):
    """DistributedDataParallel through torchrun (gloo, CPU): both ranks end with the same weights."""
    np.save(tmp_path / "train.npy", data[0])
    np.save(tmp_path / "val.npy", data[1])
    script = tmp_path / "ddp.py"
    script.write_text(
        "import os, sys, pathlib, numpy as np, torch\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from core.config import LiquidConfig\nfrom core.model import LiquidLM\nfrom core.training.pretrain import TrainSettings, train\n"
        "torch.manual_seed(0)\n"
        "m = LiquidLM(LiquidConfig(vocab_size=300, d_model=32, n_layers=2, n_heads=4, chunk_size=8))\n"
        f"d, v = np.load({str(tmp_path / 'train.npy')!r}), np.load({str(tmp_path / 'val.npy')!r})\n"
        "s = TrainSettings(seq_len=16, batch_size=2, total_tokens=16 * 2 * 2 * 4, warmup_steps=1, eval_every=100,"
        " eval_windows=2, ckpt_every=100, bf16='off')\n"
        f"train(m, d, v, pathlib.Path({str(tmp_path / 'run')!r}), s, progress=False, log=lambda x: None)\n"
        f"np.save({str(tmp_path)!r} + '/w' + os.environ['RANK'] + '.npy', m.embed.weight.detach().numpy())\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533", str(script)],
                   check=True, env=env, capture_output=True, timeout=300)
    w0, w1 = np.load(tmp_path / "w0.npy"), np.load(tmp_path / "w1.npy")
    np.testing.assert_allclose(w0, w1, atol=1e-6)
    assert not np.allclose(w0, LiquidLM(tiny_config("matrix")).embed.weight.detach().numpy())
