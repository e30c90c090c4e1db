"""What goes out for the twins followed by id: a subscriber of every twin gets poses only of the
twins it names (protocol section 9.5), the messages carry the tick's state even when the sender
thread encodes them after the world moved on, and the followed ids kept sorted follow every
(un)subscription. A small simulation on a loopback XPUB (``tests.followed.Followed``)."""

from __future__ import annotations

import numpy as np

from synthtwin.net.publisher import TwinFollows
from synthtwin.net.sender import Sender
from synthtwin.net.wire import pose, topics
from tests.followed import WAIT_S, receive_all


def test_a_subscriber_of_every_twin_gets_poses_only_of_the_twins_it_names(followed):
    ids = followed.sim.world.ids.tolist()
    sub = followed.follow(ids[2], b"meta")
    sub.subscribe(b"")
    xpub = followed.publisher.socket
    assert xpub.poll(int(WAIT_S * 1000)) and xpub.recv() == b"\x01"
    followed.publisher.pose_follows.apply(b"\x01")
    for _ in range(2 * followed.publisher.twin_period):
        followed.tick()
    got = receive_all(sub)
    poses = {t for t, _ in got if t.endswith(b"/pose")}
    vitals = {t for t, _ in got if t.startswith(b"twin/") and t.endswith(b"/vitals")}
    assert poses == {topics.topic_for("pose", twin_id=ids[2])}
    assert vitals == {topics.topic_for("vitals", twin_id=twin) for twin in ids}


def test_a_pose_carries_the_tick_state_though_the_world_moved_before_it_was_encoded(followed):
    twin = int(followed.sim.world.ids[1])
    sub = followed.follow(twin, b"meta")
    publisher = followed.publisher
    publisher.twin_period = 1  # the twin's pose every tick
    sender = publisher.link = Sender(publisher.socket, None, 100)
    try:
        with sender._ready:  # the sender takes nothing until the world has moved on
            followed.tick()
            world = followed.sim.world
            row = int(world.rows_of([twin])[0])
            where_m = world["position_m"][row].copy()
            world["position_m"][row] += 500.0
            world["clip_phase"][row] = (world["clip_phase"][row] + 0.5) % 1.0
        poses = [p for t, p in receive_all(sub) if t == topics.topic_for("pose", twin_id=twin)]
    finally:
        sender.close()
    assert poses, "the followed twin's pose did not arrive"
    np.testing.assert_allclose(pose.decode(poses[0]).root_m[0, :2], where_m, atol=1e-3)


def test_the_sorted_followed_ids_follow_every_subscription_change():
    follows = TwinFollows(cap=2)
    steps = [b"\x01twin/5/", b"\x01twin/3/vitals", b"\x00twin/3/vitals", b"\x01twin/9/",
             b"\x01twin/11/", b"\x01twin/9/pose", b"\x00twin/11/", b"\x00twin/9/",
             b"\x00twin/42/", b"\x00twin/9/pose", b"\x01twin/3/"]  # fmt: skip
    for message in steps:
        follows.apply(message)
        assert follows.sorted_ids().tolist() == sorted(follows.twins), message
    assert follows.sorted_ids().tolist() == [3, 5] and follows.ignored == 1
