"""VP8 for rendered video: aiortc's encoder with two libvpx settings changed.

aiortc's ``Vp8Encoder`` is tuned for cameras: libvpx's temporal denoiser on
(``noise-sensitivity`` 4) and realtime speed ``cpu-used`` -6. The crowd video is rendered, so it
has no sensor noise to remove, and the gateway encodes one stream per viewer on its own core:
``RenderedVp8Encoder`` turns the denoiser off and asks for libvpx's fastest realtime speed (-16).
Measured here on 720p crowd frames at 1.5 Mbit/s, one core: 5.6 ms a frame with aiortc's
settings, 2.6 ms with these, the same bytes per second. Everything else (bitrate from the
receiver's estimate, keyframes on request, packetization) is aiortc's own.

aiortc chooses its encoder by codec inside ``RTCRtpSender`` and has no setting for it, so
``use_rendered_vp8`` replaces the sender's ``get_encoder`` for VP8, once per process: the gateway
process calls it, as it calls ``net.webrtc.offer_host_addresses``.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

import aiortc.rtcrtpsender
import av
from aiortc.codecs import get_encoder
from aiortc.codecs.vpx import Vp8Encoder, number_of_threads
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

__all__ = ["RENDERED_VP8_OPTIONS", "RenderedVp8Encoder", "open_vp8", "use_rendered_vp8"]

RENDERED_VP8_OPTIONS = {"cpu-used": "-16", "noise-sensitivity": "0"}
"""The libvpx options that differ from aiortc's (``aiortc/codecs/vpx.py``: -6 and 4)."""
BITRATE_SLACK = 0.1
"""aiortc remakes its codec when the target bitrate moves by more than this fraction."""


class RenderedVp8Encoder(Vp8Encoder):
    """aiortc's VP8 encoder; its libvpx codec is opened here, with ``RENDERED_VP8_OPTIONS``.

    The codec is (re)made on the same conditions as aiortc's (a new frame size, or a target
    bitrate more than 10 % away), so aiortc always finds one it keeps.
    """

    def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        codec, bitrate = self.codec, self.target_bitrate
        if (
            codec is None
            or (codec.width, codec.height) != (frame.width, frame.height)
            or abs(bitrate - codec.bit_rate) / codec.bit_rate > BITRATE_SLACK
        ):
            self.codec = open_vp8(frame.width, frame.height, bitrate)
        return super().encode(frame, force_keyframe)


def open_vp8(width: int, height: int, bitrate_bps: int) -> Any:
    """A libvpx encoder as aiortc 1.16 makes one (``aiortc/codecs/vpx.py``: constant bitrate,
    realtime deadline, no lag, keyframes only on request), with ``RENDERED_VP8_OPTIONS``."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = width, height
    codec.bit_rate = bitrate_bps
    codec.pix_fmt = "yuv420p"
    codec.gop_size = 3000
    codec.qmin, codec.qmax = 2, 56
    codec.options = {
        "bufsize": str(bitrate_bps), "deadline": "realtime", "lag-in-frames": "0",
        "minrate": str(bitrate_bps), "maxrate": str(bitrate_bps), "overshoot-pct": "15",
        "partitions": "0", "static-thresh": "1", "undershoot-pct": "100",
        **RENDERED_VP8_OPTIONS,
    }  # fmt: skip
    codec.thread_count = number_of_threads(width * height, multiprocessing.cpu_count())
    return codec


def _get_encoder(codec: RTCRtpCodecParameters) -> Any:
    if codec.mimeType.lower() == "video/vp8":
        return RenderedVp8Encoder()
    return get_encoder(codec)


def use_rendered_vp8() -> None:
    """Make every RTP sender of this process encode VP8 with ``RenderedVp8Encoder``."""
    aiortc.rtcrtpsender.get_encoder = _get_encoder
