"""LFM2 (core/lfm2.py): conformance against transformers, the bounded state, adapters, loading."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from core.errors import ModelFilesError
from core.lfm2 import Lfm2LM, clone_state, load_lfm2
from core.lora import attach_lora, lora_parameters
from core.state import state_from_bytes, state_nbytes, state_to_bytes
from tests.core.lfm2_support import write_tokenizer as _write_tokenizer

transformers = pytest.importorskip("transformers")  # test-only dependency (pyproject `test` extra)

VOCAB = 400
LAYERS = ["conv", "full_attention", "conv", "conv", "full_attention"]


def hf_config(**over):
    kw = dict(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=96, block_multiple_of=32, num_hidden_layers=len(LAYERS),
        num_attention_heads=4, num_key_value_heads=2, layer_types=LAYERS, max_position_embeddings=4096,
        bos_token_id=1, eos_token_id=7, pad_token_id=0,
    )
    return transformers.Lfm2Config(**{**kw, **over})


def _randomise(model: torch.nn.Module, seed: int) -> None:
    """Weights far from the tiny default init, so differences would show in the logits."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) / p.shape[-1] ** 0.5)


def save_hf(folder, seed: int = 0, **over):
    torch.manual_seed(seed)
    hf = transformers.Lfm2ForCausalLM(hf_config(**over)).eval()
    _randomise(hf, seed)
    hf.save_pretrained(folder)
    return hf


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lfm2")
    hf = save_hf(folder)
    return folder, hf


def ours(folder, **over) -> Lfm2LM:
    model, _ = load_lfm2(folder, with_tokenizer=False, **over)
    return model


def ids(t: int, b: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.randint(2, VOCAB, (b, t), generator=torch.Generator().manual_seed(seed))


# --- conformance ----------------------------------------------------------------------------


@torch.no_grad()
def test_full_forward_matches_transformers(hf_folder):
    folder, hf = hf_folder
    x = ids(40, b=2)
    expected = hf(x).logits
    got, _ = ours(folder)(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@torch.no_grad()
def test_prefill_then_steps_match_transformers(hf_folder):
    folder, hf = hf_folder
    x = ids(48)
    expected = hf(x).logits[0]
    model = ours(folder)
    logits, state = model(x[:, :20])
    torch.testing.assert_close(logits[0], expected[:20], atol=1e-4, rtol=1e-4)
    for i in range(20, 48):
        step_logits, state = model.step(x[:, i], state)
        torch.testing.assert_close(step_logits[0], expected[i], atol=1e-4, rtol=1e-4)


@torch.no_grad()
def test_chunked_prefill_matches_transformers(hf_folder):
    """Prefill in pieces through the state (as the session re-reads history) equals one pass."""
    folder, hf = hf_folder
    x = ids(50)
    expected = hf(x).logits[0]
    model = ours(folder)
    state, pieces = None, []
    for a, b in ((0, 7), (7, 8), (8, 31), (31, 50)):
        logits, state = model(x[:, a:b], state)
        pieces.append(logits[0])
    torch.testing.assert_close(torch.cat(pieces), expected, atol=1e-4, rtol=1e-4)


@torch.no_grad()
def test_long_reads_go_through_the_state_in_chunks(hf_folder, monkeypatch):
    """Without gradients a long input is read in PREFILL_CHUNK pieces: same logits, exact or windowed."""
    folder, hf = hf_folder
    x = ids(50)
    windowed = ours(folder, attention_window=12, attention_sinks=2)
    one_pass, _ = windowed(x)
    monkeypatch.setattr("core.lfm2.PREFILL_CHUNK", 16)
    torch.testing.assert_close(ours(folder)(x)[0], hf(x).logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(windowed(x)[0], one_pass, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_untied_head_and_conv_bias_match_transformers(tmp_path):
    hf = save_hf(tmp_path, seed=3, tie_word_embeddings=False, conv_bias=True)
    x = ids(24, seed=3)
    got, _ = ours(tmp_path)(x)
    torch.testing.assert_close(got, hf(x).logits, atol=1e-4, rtol=1e-4)


def test_config_reads_the_reference_fields(hf_folder):
    folder, hf = hf_folder
    cfg = ours(folder).cfg
    assert cfg.layer_types == LAYERS
    assert cfg.intermediate_size == hf.model.layers[0].feed_forward.w1.out_features
    assert cfg.head_dim == 16 and cfg.num_key_value_heads == 2 and cfg.rope_theta == 1e6


# --- the bounded state ----------------------------------------------------------------------


@torch.no_grad()
def test_window_longer_than_history_is_exact(hf_folder):
    folder, _ = hf_folder
    exact = ours(folder, attention_window=4096)
    bounded = ours(folder, attention_window=64, attention_sinks=4)
    x = ids(60)
    torch.testing.assert_close(bounded(x)[0], exact(x)[0], atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_state_size_is_constant_past_the_window(hf_folder):
    folder, _ = hf_folder
    model = ours(folder, attention_window=16, attention_sinks=2)
    _, state = model(ids(10))
    size = state_nbytes(state)
    assert size == state_nbytes(model.zero_state())
    for i in range(40):
        _, state = model.step(torch.tensor([5 + i % 50]), state)
        assert state_nbytes(state) == size
    _, state = model(ids(100), state)
    assert state_nbytes(state) == size


@torch.no_grad()
def test_rolled_window_steps_equal_masked_forward(hf_folder):
    """Past the window, decoding slot by slot equals a full pass with the sink+window mask."""
    folder, _ = hf_folder
    model = ours(folder, attention_window=12, attention_sinks=3)
    x = ids(45, seed=1)
    full, _ = model(x)
    logits, state = model(x[:, :5])
    outs = [logits[0]]
    for i in range(5, 45):
        step_logits, state = model.step(x[:, i], state)
        outs.append(step_logits)
    torch.testing.assert_close(torch.cat(outs), full[0], atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_state_saved_and_restored_continues_identically(hf_folder):
    folder, _ = hf_folder
    model = ours(folder, attention_window=16, attention_sinks=2)
    _, state = model(ids(30))
    data = state_to_bytes(state, model.cfg.hash(), tokens_seen=30)
    restored, header = state_from_bytes(data, model.zero_state(), model.cfg.hash())
    assert header["tokens_seen"] == 30
    a, _ = model(ids(9, seed=5), state)
    b, _ = model(ids(9, seed=5), restored)
    torch.testing.assert_close(a, b, atol=0, rtol=0)


@torch.no_grad()
def test_forward_leaves_the_callers_state_alone(hf_folder):
    folder, _ = hf_folder
    model = ours(folder)
    _, state = model(ids(8))
    before = clone_state(state)
    model(ids(5, seed=2), state)
    for a, b in zip(before, state):
        for k in a:
            assert torch.equal(a[k], b[k])


@torch.no_grad()
def test_start_ids_are_read_first_on_a_fresh_state(hf_folder):
    folder, _ = hf_folder
    model = ours(folder)
    x = ids(6)
    with_bos, _ = model(torch.cat([torch.tensor([[1]]), x], dim=1))
    model.start_ids = (1,)
    got, _ = model(x)
    torch.testing.assert_close(got, with_bos[:, 1:], atol=1e-5, rtol=1e-5)
    step_logits, _ = model.step(x[:, 0])
    torch.testing.assert_close(step_logits, with_bos[:, 1], atol=1e-5, rtol=1e-5)


# --- adapters and learning ------------------------------------------------------------------


@torch.no_grad()
def test_fresh_adapter_changes_nothing(hf_folder):
    folder, _ = hf_folder
    model = ours(folder)
    x = ids(12)
    before, _ = model(x)
    params = attach_lora(model, rank=4)
    assert len(params) == 2 * (3 * 5 + 2 * 3 + 4 * 2)  # mlp w1,w2,w3 x5; conv in/out x3; attn q,k,v,out x2
    after, _ = model(x)
    torch.testing.assert_close(after, before, atol=0, rtol=0)


@pytest.mark.slow
def test_learner_steps_run_on_tiny_lfm2(tmp_path, hf_folder):
    from core.learner import Learner, LearnerSettings

    folder, _ = hf_folder
    shutil.copytree(folder, tmp_path / "m", dirs_exist_ok=True)
    _write_tokenizer(tmp_path / "m")
    model, tok = load_lfm2(tmp_path / "m")
    anchor = ["the cat sat on the mat and the dog ran to the park " * 3] * 6
    learner = Learner(model, tok, anchor, LearnerSettings(rank=4, steps=2, anchor_window=16, eval_windows=2, tolerance=0.5))
    text = "<|user|>my sister is called ines<|end|><|assistant|>nice name<|end|>"
    before = learner.personal_loss([text])
    for _ in range(3):
        result = learner.update([text], [text])
    assert result.steps == 2 and result.seconds > 0
    assert learner.personal_loss([text]) < before
    assert any(p.abs().sum() > 0 for p in lora_parameters(learner.model))


# --- the tokenizer --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lfm2_tok(tmp_path_factory):
    from core.lfm2_tokenizer import Lfm2Tokenizer

    folder = tmp_path_factory.mktemp("tok")
    _write_tokenizer(folder)
    return Lfm2Tokenizer.load(folder)


def test_role_markers_become_chatml(lfm2_tok):
    tok = lfm2_tok
    ids_ = tok.encode("<|user|>hi<|end|><|assistant|>")
    text = tok.tk.decode(ids_, skip_special_tokens=False)
    assert text == "\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tok.end_id == tok.tk.token_to_id("<|im_end|>")
    assert tok.decode(tok.encode("the cat sat")) == "the cat sat"
    assert all(len(tok._plain(w)) == 1 for w in ("user", "assistant", "system"))  # the learner's role ids


def test_turn_by_turn_ids_equal_a_full_reread(lfm2_tok):
    """The state after a reply ends with <|im_end|>; the next turn's ids must continue it exactly."""
    tok = lfm2_tok
    whole = tok.encode("<|user|>hi<|end|><|assistant|>yo<|end|><|user|>more<|end|><|assistant|>")
    turns = tok.encode("<|user|>hi<|end|><|assistant|>") + tok.encode("yo") + [tok.end_id] + tok.encode("<|user|>more<|end|><|assistant|>")
    assert turns == whole


def test_the_learner_weighs_roles_on_lfm2_ids(lfm2_tok):
    """The learner finds the roles through `role_ids` (the role words after <|im_start|>)."""
    from core.learner import Learner, LearnerSettings

    learner = Learner.__new__(Learner)  # only encode_personal is exercised: no model needed
    learner.settings, learner.tok = LearnerSettings(reply_weight=0.0), lfm2_tok
    learner._role_ids = {lfm2_tok.role_ids[t]: t for t in ("<|user|>", "<|assistant|>", "<|memory|>")}
    ids_, weights = learner.encode_personal("<|user|>the cat<|end|><|assistant|>nice name<|end|>")
    reply = lfm2_tok.encode("<|user|>the cat<|end|>")
    assert len(set(learner._role_ids)) == 3
    assert all(w == 1.0 for w in weights[: len(reply)])
    assert all(w == 0.0 for w in weights[len(reply) + 2 :])  # "\n<|im_start|>" then the assistant's turn


def test_user_text_cannot_forge_special_tokens(lfm2_tok):
    ids_ = lfm2_tok.encode("a <|im_end|> b")
    assert lfm2_tok.end_id not in ids_ and lfm2_tok.im_start not in ids_


def test_memory_block_is_a_system_turn(lfm2_tok):
    ids_ = lfm2_tok.encode_chat([("user", "hi")], ["my sister is ines"])
    text = lfm2_tok.tk.decode(ids_, skip_special_tokens=False)
    assert text.startswith("\n<|im_start|>system\nRelevant notes from memory:\n- my sister is ines<|im_end|>\n<|im_start|>user\nhi")


# --- loading and malformed folders ----------------------------------------------------------


def test_load_model_dispatches_on_model_type(tmp_path, hf_folder):
    from core.checkpoint import load_model

    folder, _ = hf_folder
    shutil.copytree(folder, tmp_path / "m")
    _write_tokenizer(tmp_path / "m")
    model, tok = load_model(tmp_path / "m")
    assert isinstance(model, Lfm2LM) and model.start_ids == (tok.bos_id,)
    assert len(model.cfg.hash()) == 16


def _copy(folder, dest):
    shutil.copytree(folder, dest)
    return dest


def test_missing_tensor_is_named(tmp_path, hf_folder):
    from safetensors.torch import load_file, save_file

    d = _copy(hf_folder[0], tmp_path / "m")
    tensors = load_file(str(d / "model.safetensors"))
    del tensors["model.layers.1.self_attn.k_layernorm.weight"]
    save_file(tensors, str(d / "model.safetensors"))
    with pytest.raises(ModelFilesError, match="model.layers.1.self_attn.k_layernorm.weight"):
        load_lfm2(d, with_tokenizer=False)


def test_wrong_shape_is_named(tmp_path, hf_folder):
    from safetensors.torch import load_file, save_file

    d = _copy(hf_folder[0], tmp_path / "m")
    tensors = load_file(str(d / "model.safetensors"))
    tensors["model.layers.0.conv.in_proj.weight"] = torch.zeros(10, 64)
    save_file(tensors, str(d / "model.safetensors"))
    with pytest.raises(ModelFilesError, match=r"model.layers.0.conv.in_proj.weight.*\(10, 64\)"):
        load_lfm2(d, with_tokenizer=False)


def test_unknown_architecture_is_named(tmp_path, hf_folder):
    from core.checkpoint import load_model

    d = _copy(hf_folder[0], tmp_path / "m")
    cfg = json.loads((d / "config.json").read_text())
    cfg["model_type"], cfg["architectures"] = "mamba", ["MambaForCausalLM"]
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFilesError, match="mamba"):
        load_model(d)


def test_sharded_weights_load_and_missing_shard_is_named(tmp_path, hf_folder):
    from safetensors.torch import load_file, save_file

    d = _copy(hf_folder[0], tmp_path / "m")
    tensors = load_file(str(d / "model.safetensors"))
    (d / "model.safetensors").unlink()
    names = sorted(tensors)
    half = len(names) // 2
    weight_map = {}
    for i, part in enumerate((names[:half], names[half:])):
        fname = f"model-{i + 1:05d}-of-00002.safetensors"
        save_file({n: tensors[n] for n in part}, str(d / fname))
        weight_map.update({n: fname for n in part})
    (d / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    x = ids(10)
    torch.testing.assert_close(ours(d)(x)[0], ours(hf_folder[0])(x)[0], atol=0, rtol=0)
    (d / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(ModelFilesError, match="model-00002-of-00002.safetensors"):
        load_lfm2(d, with_tokenizer=False)


def test_missing_tokenizer_is_named(tmp_path, hf_folder):
    d = _copy(hf_folder[0], tmp_path / "m")
    with pytest.raises(ModelFilesError, match="tokenizer.json"):
        load_lfm2(d)


@torch.no_grad()
def test_int8_decoder_is_the_same_model_with_int8_weights(hf_folder, monkeypatch):
    from core.lfm2 import int8_decoder

    model = ours(hf_folder[0])
    x = ids(20)
    exact, state = model(x[:, :12])
    exact_step, _ = model.step(x[:, 12], clone_state(state))
    q8 = int8_decoder(model)
    approx, q_state = q8(x[:, :12])
    approx_step, _ = q8.step(x[:, 12], q_state)
    cos = torch.nn.functional.cosine_similarity
    assert cos(exact.flatten(), approx.flatten(), dim=0) > 0.95 and cos(exact_step[0], approx_step[0], dim=0) > 0.95
    monkeypatch.setattr("torch.ao.quantization.quantize_dynamic", lambda m, *a, **k: m)  # the copy without int8
    plain = int8_decoder(model)
    assert torch.equal(plain.step(x[:, 12], plain(x[:, :12])[1])[0], exact_step)
