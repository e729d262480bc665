"""Audio lip-sync: formant-synthesised vowels, silence, streaming, files, and (when installed) espeak-ng speech."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile

from tha4_plugins.audio import AudioSource
from tha4_plugins.lipsync import (VOWELS, AudioError, LipSyncAnalyser, LipSyncOptions, analyse_file,
                                  analyse_samples, formants, read_audio, synthesize_vowel, write_wav)
from tha4_sdk import plugins

# Textbook F1/F2 of the Japanese vowels, rounded (not the analyser's own references), per speaker group.
TEXTBOOK = {
    "male": {"aaa": (700, 1150), "iii": (280, 2200), "uuu": (330, 1400), "eee": (450, 1850), "ooo": (480, 800)},
    "female": {"aaa": (850, 1450), "iii": (320, 2800), "uuu": (380, 1650), "eee": (520, 2350), "ooo": (520, 900)},
}


def dominant(weights: np.ndarray) -> str:
    return VOWELS[int(np.argmax(weights))]


@pytest.mark.parametrize("speaker, f0, rate", [("male", 100, 16_000), ("male", 130, 44_100),
                                                ("female", 230, 22_050), ("female", 200, 48_000)])
def test_synthesised_vowels_are_recognised(speaker, f0, rate):
    for vowel, (f1, f2) in TEXTBOOK[speaker].items():
        signal = synthesize_vowel(vowel, 0.5, f0=f0, sample_rate=rate, formant_hz=(f1, f2, 2800, 3700))
        track = analyse_samples(signal, rate)
        steady = track.weights[10:-5].mean(axis=0)
        assert dominant(steady) == vowel, (vowel, steady.round(2))
        assert steady.sum() > 0.8  # loud vowel: mouth open


def test_lpc_finds_the_synthesised_formants():
    signal = synthesize_vowel("aaa", 0.2, f0=110, sample_rate=10_000, formant_hz=(700, 1150, 2800, 3700))
    found = formants(signal[500:900].astype(np.float64))
    assert found[0] == pytest.approx(700, rel=0.1) and found[1] == pytest.approx(1150, rel=0.1)


def test_silence_and_quiet_noise_keep_the_mouth_closed():
    rate = 16_000
    assert analyse_samples(np.zeros(rate, np.float32), rate).weights.max() == 0.0
    hiss = np.random.default_rng(1).normal(0, 10 ** (-60 / 20), rate).astype(np.float32)  # −60 dBFS
    assert analyse_samples(hiss, rate, LipSyncOptions(normalize=False)).weights.max() == 0.0
    assert analyse_samples(np.zeros(0, np.float32), rate).weights.shape == (0, 5)


def test_vowel_silence_vowel_timing(tmp_path):
    rate = 16_000
    parts = [synthesize_vowel("ooo", 0.5, sample_rate=rate), np.zeros(rate // 2, np.float32),
             synthesize_vowel("iii", 0.5, sample_rate=rate)]
    track = analyse_samples(np.concatenate(parts), rate, LipSyncOptions(fps=50))
    assert len(track.weights) == 75 and track.duration == pytest.approx(1.5)
    assert dominant(track.weights_at(0.3)) == "ooo" and dominant(track.weights_at(1.3)) == "iii"
    assert track.weights_at(0.75).max() < 0.02  # mouth closed in the gap
    assert track.weights_at(0.65).max() < 0.1 and track.weights_at(1.15).max() > 0.3  # closes and opens in ~0.1 s
    assert track.loudness_db[5:20].min() > -20 and track.loudness_db[30:45].max() < -90


def test_streaming_in_odd_chunks_matches_whole_file_analysis():
    rate = 22_050
    signal = np.concatenate([synthesize_vowel(v, 0.3, sample_rate=rate) for v in VOWELS])
    options = LipSyncOptions(normalize=False)
    whole = analyse_samples(signal, rate, options)
    analyser = LipSyncAnalyser(rate, options)
    frames, start = [], 0
    for size in np.random.default_rng(2).integers(1, 3000, 10_000):
        frames += analyser.push(signal[start:start + size])
        start += size
        if start >= len(signal):
            break
    frames += analyser.flush()
    streamed = np.array([w for _, w, _ in frames])[: len(whole.weights)]
    assert np.allclose(streamed, whole.weights, atol=1e-6)
    assert [t for t, _, _ in frames[:3]] == pytest.approx([0.0, 1 / 60, 2 / 60])


def test_files_wav_and_flac_and_errors(tmp_path):
    rate = 16_000
    signal = np.concatenate([synthesize_vowel("aaa", 0.4, sample_rate=rate), np.zeros(rate // 5, np.float32)])
    write_wav(tmp_path / "a.wav", signal, rate)
    stereo = np.stack([signal, signal], axis=1)
    soundfile.write(tmp_path / "a.flac", stereo, rate)
    soundfile.write(tmp_path / "a24.wav", stereo, rate, subtype="PCM_24")
    tracks = [analyse_file(tmp_path / name, progress=False) for name in ("a.wav", "a.flac", "a24.wav")]
    for track in tracks:
        assert dominant(track.weights[5:20].mean(axis=0)) == "aaa" and track.duration == pytest.approx(0.6)
    assert np.allclose(tracks[0].weights, tracks[1].weights, atol=0.01)
    samples, sr = read_audio(tmp_path / "a24.wav")
    assert sr == rate and samples.shape == (len(signal),)
    (tmp_path / "bad.wav").write_bytes(b"RIFF nonsense")
    with pytest.raises(AudioError, match="bad.wav"):
        analyse_file(tmp_path / "bad.wav")
    with pytest.raises(AudioError, match="not found"):
        analyse_file(tmp_path / "missing.wav")
    with pytest.raises(AudioError, match="gate_db"):
        LipSyncOptions(gate_db=-10, full_db=-20)


def test_audio_source_plays_a_file_back(tmp_path):
    assert plugins.get("pose_source", "audio") is AudioSource
    source = AudioSource.example(tmp_path)
    with source:
        assert source.duration == pytest.approx(1.5)
        open_a, closed, open_i = source.pose_at(0.25), source.pose_at(0.75), source.pose_at(1.25)
    assert open_a["mouth_aaa"] > 0.7 and open_i["mouth_iii"] > 0.7
    assert max(closed[f"mouth_{v}"] for v in VOWELS) < 0.02
    assert open_a["head_y"] == 0.0 and open_a["eye_wink_left"] == 0.0  # only the mouth moves
    assert source.pose_at(5.0)["mouth_aaa"] == 0.0  # after the end: closed


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get install espeak-ng)")
@pytest.mark.parametrize("vowel, kana", list(zip(VOWELS, ["ああああ", "いいいい", "うううう", "ええええ", "おおおお"])))
def test_espeak_speech(tmp_path, vowel, kana):
    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "ja", "-s", "120", "-w", str(wav), kana], check=True, capture_output=True)
    track = analyse_file(wav, progress=False)
    speaking = track.weights.sum(axis=1) > 0.3
    assert 0.3 * len(speaking) < speaking.sum() < len(speaking)  # leading/trailing quiet stays closed
    assert dominant(track.weights[speaking].mean(axis=0)) == vowel
