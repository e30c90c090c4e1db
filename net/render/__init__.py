"""Server-side rendering of the crowd for the WebRTC video view (moderngl, EGL), in yuv420p.

- :class:`Camera` (``camera``): the viewer's orbit camera, with pan, orbit, zoom and framing.
- :class:`CrowdView` (``crowd_view``): the twins to draw (ids, positions, headings, animation).
- :class:`CrowdRenderer` (``renderer``): renders a view to yuv420p planes or an ``av.VideoFrame``,
  culling and choosing each twin's level of detail (``culling``), posing each body from baked
  clips on the CPU (``animation_texture``) and skinning the low-poly body at two levels of detail
  (``body_mesh``) in the vertex shader, draws the town's places given by ``set_town`` (``town``:
  boxes near, points far, culled on the CPU), picks twins under a click (``picking``), and rings
  and labels the selected twin (``highlight``).
- :class:`Flight` (``flight``): Follow's glide of the camera to a twin, instead of a jump.
- :data:`PALETTE` and :func:`rgb_to_yuv` (``colour``): activity colours and the YUV they become;
  ``colour.PLACE_RGB``: the place kinds' colours.
"""

from synthtwin.net.render.camera import Camera
from synthtwin.net.render.colour import PALETTE, rgb_to_yuv
from synthtwin.net.render.crowd_view import CrowdView
from synthtwin.net.render.flight import Flight
from synthtwin.net.render.picking import pick
from synthtwin.net.render.renderer import CrowdRenderer

__all__ = ["PALETTE", "Camera", "CrowdRenderer", "CrowdView", "Flight", "pick", "rgb_to_yuv"]
