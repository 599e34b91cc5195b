"""Model folders load, and a missing or mismatched file gets an error naming it."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from core.checkpoint import load_model, save_model
from core.errors import ModelFilesError
from core.model import LiquidLM

from .conftest import tiny_config


@pytest.fixture
def folder(tmp_path, kind, tiny_tokenizer):
    torch.manual_seed(0)
    model = LiquidLM(tiny_config(kind, vocab_size=tiny_tokenizer.vocab_size))
    save_model(tmp_path / "m", model, tiny_tokenizer)
    return tmp_path / "m", model


def test_saved_folder_loads_with_identical_logits(folder):
    path, model = folder
    loaded, tok = load_model(path)
    ids = torch.randint(0, 300, (1, 12))
    with torch.no_grad():
        assert torch.equal(loaded(ids)[0], model.eval()(ids)[0])
    assert tok.vocab_size == loaded.cfg.vocab_size


def test_missing_tensor_is_named(folder):
    path, _ = folder
    tensors = load_file(str(path / "model.safetensors"))
    del tensors["blocks.1.mlp.up_proj.weight"]
    save_file(tensors, str(path / "model.safetensors"))
    with pytest.raises(ModelFilesError, match="blocks.1.mlp.up_proj.weight"):
        load_model(path)


def test_wrong_shape_tensor_is_named(folder):
    path, _ = folder
    tensors = load_file(str(path / "model.safetensors"))
    tensors["norm.weight"] = torch.ones(7)
    save_file(tensors, str(path / "model.safetensors"))
    with pytest.raises(ModelFilesError, match=r"norm.weight.*shape \(7,\)"):
        load_model(path)


@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "tokenizer.model"])
def test_missing_file_is_named(folder, name):
    path, _ = folder
    (path / name).unlink()
    with pytest.raises(ModelFilesError, match=name.replace(".", r"\.")):
        load_model(path)


def test_bad_config_is_refused(folder):
    path, _ = folder
    (path / "config.json").write_text(json.dumps({"d_model": 32, "state_kind": "quantum"}))
    with pytest.raises(ModelFilesError, match="state_kind"):
        load_model(path)
