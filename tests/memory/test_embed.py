"""The numpy sentence encoder (`memory.embed`) against transformers' BertModel, and its file checks."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from memory import embed
from tests.memory.store_helpers import embedding_model_installed


needs_model = pytest.mark.skipif(
    not embedding_model_installed() and not os.environ.get("CI"), reason="the embedding model is not installed (make source)"
)


@needs_model
def test_the_numpy_encoder_equals_transformers_bert_with_mean_pooling():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folder = embed.locate()
    texts = ["I grew up in Charleston", "Which town is home for me?", "ok", "My sister Ilse is a vet " * 20]
    ours = embed.load_embedder().embed(texts)
    model = transformers.BertModel.from_pretrained(str(folder)).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    with torch.no_grad():
        batch = tokenizer(texts, padding=True, truncation=True, max_length=embed.MAX_TOKENS, return_tensors="pt")
        hidden = model(**batch).last_hidden_state  # (b, t, d)
        mask = batch["attention_mask"][..., None].float()
        reference = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy()
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


@needs_model
def test_a_model_file_that_does_not_match_its_digest_is_refused(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(embed.locate(), folder)
    (folder / "config.json").write_text((folder / "config.json").read_text().replace("384", "385", 1))
    with pytest.raises(embed.ModelMissing, match="SHA-256"):
        embed.locate(folder=folder)


def test_a_missing_model_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv(embed.EMBED_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(embed.ModelMissing, match="missing"):
        embed.locate()
    assert embed.load_default_embedder() is None
