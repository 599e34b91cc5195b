"""Importing voice code has no side effects: no PortAudio, no model, no thread, no environment change."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, os, sys, threading
before = dict(os.environ)
import ui.commands.listen
light = "numpy" not in sys.modules
import assistant.voice
from assistant.voice import capture, recognition, push_to_talk, streams, speech_set, doctor, wavfile
import assistant.bench.voice
print(json.dumps({
    "listen_command_is_light": light,
    "heavy": sorted(m for m in ("sounddevice", "faster_whisper", "ctranslate2", "_sounddevice") if m in sys.modules),
    "threads": threading.active_count(),
    "environment_changed": dict(os.environ) != before,
}))
"""


def test_importing_voice_modules_loads_nothing_heavy_and_starts_nothing():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(done.stdout)
    assert result == {"listen_command_is_light": True, "heavy": [], "threads": 1, "environment_changed": False}
