"""Run by test_portaudio.py in a child process whose HOME holds a test-owned .asoundrc.

ALSA reads its configuration once, when PortAudio initialises (at `import sounddevice`), so
the fake microphone must be configured before this process starts. Records one utterance
through the real sounddevice/PortAudio/ALSA path, saves it as .npy and prints one JSON line.

usage: python portaudio_probe.py OUT.npy MAX_SECONDS
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from assistant.errors import MicrophoneUnavailable
from assistant.voice.capture import Recorder, list_input_devices


def main() -> None:
    out, max_seconds = sys.argv[1], float(sys.argv[2])
    started = time.monotonic()
    try:
        devices = [d.name for d in list_input_devices()]
        recorder = Recorder(max_seconds=max_seconds)
        audio = recorder.record_utterance(timeout=30)
    except MicrophoneUnavailable as exc:
        print(json.dumps({"error": str(exc)}))
        return
    np.save(out, audio, allow_pickle=False)
    print(json.dumps({
        "devices": devices,
        "samples": int(audio.size),
        "reason": recorder.stop_reason,
        "speech_started": recorder.speech_started,
        "wall_s": time.monotonic() - started,
    }))


if __name__ == "__main__":
    main()
