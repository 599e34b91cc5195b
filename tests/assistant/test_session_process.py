"""Closing and reopening in a new process continues a conversation with the same logits."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from .session_support import greedy, next_logits, open_session, tiny_model_dir

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from safetensors.torch import save_file
    from tests.assistant.session_support import next_logits, open_session

    home, model_dir, out, conversation = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    session = open_session(home, model_dir, learn=False)
    logits = next_logits(session, conversation, "what is my cat called?")
    states = [e for e in session.learning_log() if e.kind == "state"]
    session.close()
    assert not states, states
    save_file({"logits": logits.contiguous()}, out)
    """
)


@pytest.mark.slow
def test_a_new_process_continues_a_conversation_with_identical_logits(tmp_path):
    model_dir = tiny_model_dir()
    home = tmp_path / "home"
    session = open_session(home, model_dir)
    try:
        conv = session.new_conversation()
        for text in ("my cat is called Miso", "she likes tea", "and long walks by the river"):
            session.send(text, settings=greedy(10)).wait()
        assert session.wait_for_learning(60)  # learning went on: the conversation kept its version
        before = next_logits(session, conv.id, "what is my cat called?")
    finally:
        session.close()
    out = tmp_path / "logits.safetensors"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(home), str(model_dir), str(out), str(conv.id)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert torch.equal(load_file(str(out))["logits"], before)
