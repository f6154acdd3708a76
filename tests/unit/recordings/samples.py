"""Paths of the real FreeSWITCH recordings the recordings tests use."""

from pathlib import Path

WIRE_RECORDINGS = Path(__file__).resolve().parents[2] / "data" / "freeswitch-wire" / "recordings"
STEREO_8K = WIRE_RECORDINGS / "stereo_8k_followup.wav"  # speech on the left (patient) side
MONO_8K = WIRE_RECORDINGS / "mono_8k_followup.wav"
MONO_16K = WIRE_RECORDINGS / "mono_16k_short.wav"
