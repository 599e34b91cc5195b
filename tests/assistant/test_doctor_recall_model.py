"""`assistant doctor`'s check of the recall model (recall by meaning, `memory.embed`)."""

from __future__ import annotations

from memory import embed


def test_doctor_reports_the_recall_model_and_its_absence(tmp_path, monkeypatch):
    from assistant.doctor import check_recall_model

    monkeypatch.setenv(embed.EMBED_ENV, str(tmp_path / "nowhere"))
    (check,) = check_recall_model()
    assert check.status == "warn" and "make source" in check.fix
    monkeypatch.setenv(embed.EMBED_ENV, "off")
    assert check_recall_model()[0].status == "skip"
