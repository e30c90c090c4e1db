"""The VP8 encoder of the rendered video: aiortc's, with libvpx opened for rendered frames."""

from __future__ import annotations

import fractions

import aiortc.rtcrtpsender
import numpy as np
import pytest
from aiortc.codecs import get_encoder
from aiortc.codecs.vpx import Vp8Decoder, Vp8Encoder, vp8_depayload
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from av import VideoFrame

from synthtwin.net.video_encoder import RenderedVp8Encoder, use_rendered_vp8

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2)


def frames(count: int, width: int = 320, height: int = 180) -> list[VideoFrame]:
    """A square moving across a grey picture, ``count`` yuv420p frames."""
    made = []
    for i in range(count):
        planes = np.full((height * 3 // 2, width), 128, np.uint8)
        planes[40:80, 10 + 5 * i : 50 + 5 * i] = 235
        frame = VideoFrame.from_ndarray(planes, format="yuv420p")
        frame.pts, frame.time_base = i * 3750, fractions.Fraction(1, 90000)
        made.append(frame)
    return made


def test_its_frames_decode_to_the_same_picture():
    encoder, decoder = RenderedVp8Encoder(), Vp8Decoder()
    for i, frame in enumerate(frames(5)):
        payloads, timestamp = encoder.encode(frame)
        data = b"".join(vp8_depayload(p) for p in payloads)
        (decoded,) = decoder.decode(JitterFrame(data=data, timestamp=timestamp))
        picture = decoded.to_ndarray(format="gray").astype(int)
        assert picture.shape == (180, 320)
        assert abs(picture[60, 30 + 5 * i] - 235) < 24 and abs(picture[150, 300] - 128) < 24


def test_the_codec_is_remade_only_as_aiortc_would():
    encoder = RenderedVp8Encoder()
    first, second, third = frames(3)
    encoder.encode(first)
    opened = encoder.codec
    encoder.target_bitrate = int(encoder.target_bitrate * 1.05)  # within 10 %: kept
    encoder.encode(second)
    assert encoder.codec is opened
    encoder.target_bitrate = encoder.target_bitrate * 2  # a new bitrate: a new codec
    encoder.encode(third)
    assert encoder.codec is not opened
    assert encoder.codec.bit_rate == encoder.target_bitrate


def test_senders_use_it_for_vp8_only(monkeypatch):
    monkeypatch.setattr(aiortc.rtcrtpsender, "get_encoder", get_encoder)
    use_rendered_vp8()
    assert isinstance(aiortc.rtcrtpsender.get_encoder(VP8), RenderedVp8Encoder)
    assert not isinstance(aiortc.rtcrtpsender.get_encoder(OPUS), Vp8Encoder)


@pytest.mark.parametrize("size", [(320, 180), (640, 360)])
def test_a_new_frame_size_gets_a_new_codec(size):
    encoder = RenderedVp8Encoder()
    encoder.encode(frames(1)[0])
    encoder.encode(frames(1, *size)[0])
    assert (encoder.codec.width, encoder.codec.height) == size
