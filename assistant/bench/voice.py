"""`assistant bench voice`: word error rate, real-time factor and end-of-speech latency.

Speech is synthesised with espeak-ng and converted with `sox -D` (`assistant.voice.speech_set`:
24 sentences an assistant would hear, each in 4 voices; `--quick` speaks 8 of them in one voice each).
Clips are cached in the cache directory (`ASSISTANT_CACHE`), since they are rebuildable.

The figures:
- `wer`: corpus word error rate of the transcripts (numbers below 100 spelled out, punctuation
  and case ignored), and `wer_by_voice`.
- `rtf`: real-time factor, seconds spent transcribing per second of audio (each clip carries
  0.5 s of silence before and after, as a push-to-talk recording would).
- `release_to_transcript_s`: a 5-second utterance arrives in real time through `PushToTalk`
  with an injected stream; the push-to-talk key is pressed again as speech ends, and the clock
  runs until the transcript callback (which is what puts the text in the input box).
- `silence_stop_to_transcript_s`: the same utterance with no key press: from the end of speech
  through the automatic stop after `silence_s` of quiet to the transcript.
- `load_s`: loading the model, SHA-256 verification included.

Targets (issue 7): rtf <= 0.3 on 2 cores; release_to_transcript_s <= 1.5 s for 5 s of speech.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

TARGETS = {"rtf": 0.3, "release_to_transcript_s": 1.5}


def measure(folder: Path, quick: bool = False, model_path: str | None = None) -> dict[str, Any]:
    """Run the whole benchmark with clips cached in `folder`; returns the figures as a dict."""
    from assistant.voice import speech_set
    from assistant.voice.recognition import Transcriber
    from assistant.voice.wavfile import read_wav

    if quick:  # 8 sentences, each in one voice, every voice twice
        clips = speech_set.build_set(folder, speech_set.SENTENCES[:8], per_sentence=1)
    else:
        clips = speech_set.build_set(folder)
    transcriber = Transcriber(model_path)
    started = time.perf_counter()
    transcriber.load()
    load_s = time.perf_counter() - started

    audio_s = compute_s = 0.0
    pairs_by_voice: dict[str, list[tuple[str, str]]] = {}
    for clip in clips:
        audio = read_wav(clip.path)
        t0 = time.perf_counter()
        text = transcriber.transcribe(audio)
        compute_s += time.perf_counter() - t0
        audio_s += audio.size / 16000
        pairs_by_voice.setdefault(clip.voice, []).append((clip.text, text))
    all_pairs = [pair for pairs in pairs_by_voice.values() for pair in pairs]

    long_clip = speech_set.synthesize(speech_set.LONG_UTTERANCE, "en-us", folder / "long-en-us.wav")
    latency = _latency(transcriber, read_wav(long_clip), repeats=1 if quick else 3)
    return {
        "quick": quick,
        "model": str(transcriber.model_path),
        "compute_type": transcriber.compute_type,
        "threads": transcriber.cpu_threads,
        "clips": len(clips),
        "sentences": len({c.text for c in clips}),
        "voices": sorted(pairs_by_voice),
        "audio_s": round(audio_s, 2),
        "wer": round(speech_set.word_error_rate(all_pairs), 4),
        "wer_by_voice": {v: round(speech_set.word_error_rate(p), 4) for v, p in sorted(pairs_by_voice.items())},
        "rtf": round(compute_s / audio_s, 4),
        "load_s": round(load_s, 3),
        **latency,
        "targets": TARGETS,
    }


def _latency(transcriber: Any, audio: Any, repeats: int) -> dict[str, Any]:
    """Median end-of-speech-to-transcript times through `PushToTalk`, by key press and by silence."""
    import numpy as np

    from assistant.voice.audio import SAMPLE_RATE
    from assistant.voice.silence import SilenceDetector
    from assistant.voice.speech_set import PAD_SECONDS
    from assistant.voice.streams import ArrayInputStream

    speech = audio[: audio.size - int(PAD_SECONDS * SAMPLE_RATE)]  # lead-in silence + speech
    detector = SilenceDetector()
    for start in range(0, speech.size, 800):
        detector.feed(speech[start : start + 800])
    speech_end_s = (detector.speech_end or speech.size) / SAMPLE_RATE
    utterance_s = speech_end_s - PAD_SECONDS

    def once(press_key: bool) -> float:
        from assistant.voice.push_to_talk import PushToTalk

        delivered = threading.Event()
        got: list[float] = []

        def on_transcript(text: str) -> None:
            got.append(time.perf_counter())
            delivered.set()

        ptt = PushToTalk(
            transcriber,
            stream_class=ArrayInputStream.feeding(speech, realtime=True, after="silence"),
            on_transcript=on_transcript,
        )
        t0 = time.perf_counter()
        ptt.start()
        end_of_speech = t0 + speech_end_s
        if press_key:
            time.sleep(max(0.0, end_of_speech - time.perf_counter()))
            end_of_speech = time.perf_counter()
            ptt.stop()
        if not delivered.wait(60):
            raise RuntimeError("no transcript within 60 s")
        ptt.close()
        return got[0] - end_of_speech

    release = [once(True) for _ in range(repeats)]
    silence = [once(False) for _ in range(repeats)]
    return {
        "utterance_s": round(utterance_s, 2),
        "silence_s": 1.5,
        "release_to_transcript_s": round(float(np.median(release)), 3),
        "silence_stop_to_transcript_s": round(float(np.median(silence)), 3),
    }


def _table(result: dict[str, Any]) -> str:
    t = result["targets"]
    lines = [
        f"speech model      {result['model']} ({result['compute_type']}, {result['threads']} threads), "
        f"loads in {result['load_s']:.2f} s",
        f"test set          {result['clips']} clips, {result['sentences']} sentences, voices "
        f"{', '.join(result['voices'])}, {result['audio_s']:.0f} s of audio",
        f"word error rate   {result['wer']:.1%}   "
        + "  ".join(f"{v} {w:.1%}" for v, w in result["wer_by_voice"].items()),
        f"real-time factor  {result['rtf']:.3f}   (target <= {t['rtf']})",
        f"end of speech to transcript, {result['utterance_s']:.1f} s utterance:",
        f"  key pressed as speech ends   {result['release_to_transcript_s']:.2f} s   "
        f"(target <= {t['release_to_transcript_s']} s)",
        f"  automatic stop after {result['silence_s']} s quiet   {result['silence_stop_to_transcript_s']:.2f} s",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Measure and print (one JSON object with `--json`)."""
    from assistant.paths import cache_dir

    # `--model` of `assistant bench` names the language model, so the default speech model is measured.
    result = measure(cache_dir() / "voice-bench", quick=bool(getattr(args, "quick", False)))
    if getattr(args, "json", False):
        print(json.dumps(result))
    else:
        print(_table(result))
    return 0
