"""`assistant listen`, `assistant bench voice` and the doctor's voice checks."""

from __future__ import annotations

import json

import pytest

from assistant.voice import doctor_report
from assistant.voice.speech_set import word_error_rate
from ui.cli import main

from .conftest import HELLO


def test_listen_file_prints_the_transcript(hello_wav, capsys):
    assert main(["listen", "--file", str(hello_wav)]) == 0
    out = capsys.readouterr().out.strip()
    assert word_error_rate([(HELLO, out)]) <= 0.2


def test_listen_file_with_a_bad_wav_explains_and_fails(tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    assert main(["listen", "--file", str(bad)]) == 1
    assert "bad.wav: not a WAV file" in capsys.readouterr().err


def test_listen_with_a_missing_model_explains_and_fails(tmp_path, hello_wav, capsys):
    assert main(["listen", "--file", str(hello_wav), "--model", str(tmp_path)]) == 1
    assert "has no model.bin" in capsys.readouterr().err


def test_doctor_report_lists_the_microphone_and_the_model_check():
    report = doctor_report()
    assert [name for name, _ok, _detail in report] == ["microphone", "speech model"]
    (_, mic_ok, mic_detail), (_, model_ok, model_detail) = report
    assert isinstance(mic_ok, bool) and mic_detail
    assert model_ok, model_detail
    assert "SHA-256 verified" in model_detail


def test_doctor_report_says_what_is_wrong_with_a_bad_model(tmp_path):
    (_, ok, detail) = doctor_report(model_path=tmp_path, load_model=False)[1]
    assert not ok and "has no model.bin" in detail


@pytest.mark.slow
def test_bench_voice_quick_prints_one_json_object(capsys, tmp_path):
    assert main(["bench", "voice", "--json", "--quick"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("wer", "wer_by_voice", "rtf", "release_to_transcript_s", "silence_stop_to_transcript_s", "load_s"):
        assert key in result
    assert result["clips"] == 8 and len(result["voices"]) == 4
    assert 0.0 <= result["wer"] <= 0.3
    assert 0.0 < result["rtf"] < 1.0
