"""Tests for the camera backends, ``make_camera``, the one-frame mailbox and the capture thread.

Everything runs without a camera: the replay backend plays images and videos generated in
``tmp_path``, time comes from ``FakeClock``, and ``picamera2`` is replaced by a fake module.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import pytest

from facegate.capture import (
    Camera,
    Frame,
    LatestFrame,
    OpenCVCamera,
    Picamera2Camera,
    ReplayCamera,
    make_camera,
)
from facegate.capture.latest import CaptureThread
from facegate.clock import FakeClock
from facegate.config import OpenCVCameraConfig, Picamera2CameraConfig, ReplayCameraConfig
from facegate.errors import CameraError

# --- helpers ----------------------------------------------------------------------------------


def assert_rgb_frame(frame: Frame, height: int, width: int) -> None:
    assert isinstance(frame, Frame)
    assert frame.image.dtype == np.uint8
    assert frame.image.shape == (height, width, 3)
    assert frame.image.flags["C_CONTIGUOUS"]
    assert (frame.height, frame.width) == (height, width)


def centre(frame: Frame) -> np.ndarray:
    """The RGB value at the middle of a frame, as ints."""
    return frame.image[frame.height // 2, frame.width // 2].astype(int)


# Folder contents, in name order. Each readable image has its own size and colour so the
# test can tell which one came out and that BGR/BGRA/grey were all converted to RGB.
# (name, expected (h, w), expected RGB at the centre, tolerance)
FOLDER_FRAMES = [
    ("a_red.png", (20, 30), (255, 0, 0), 0),
    ("b_blue.jpg", (24, 32), (0, 0, 255), 12),  # JPEG is lossy
    ("d_grey.png", (16, 18), (77, 77, 77), 0),
    ("e_bgra.png", (10, 12), (200, 20, 10), 0),
]


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "frames"
    folder.mkdir()
    red = np.zeros((20, 30, 3), np.uint8)
    red[:] = (0, 0, 255)  # BGR: pure red
    assert cv2.imwrite(str(folder / "a_red.png"), red)
    blue = np.zeros((24, 32, 3), np.uint8)
    blue[:] = (255, 0, 0)  # BGR: pure blue
    assert cv2.imwrite(str(folder / "b_blue.jpg"), blue)
    (folder / "c_broken.jpg").write_bytes(b"this is not a JPEG" + bytes(range(256)))
    grey = np.full((16, 18), 77, np.uint8)  # 2-D
    assert cv2.imwrite(str(folder / "d_grey.png"), grey)
    bgra = np.zeros((10, 12, 4), np.uint8)
    bgra[:] = (10, 20, 200, 128)  # B, G, R, A
    assert cv2.imwrite(str(folder / "e_bgra.png"), bgra)
    assert cv2.imread(str(folder / "e_bgra.png"), cv2.IMREAD_UNCHANGED).shape == (10, 12, 4)
    (folder / "notes.txt").write_text("operator notes, not an image\n")
    return folder


VIDEO_FRAMES = 6
VIDEO_SIZE = (64, 48)  # (w, h)


def _level(i: int) -> int:
    return 20 + 40 * i


@pytest.fixture(scope="module")
def video_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short video whose frame ``i`` is uniformly grey at ``_level(i)``."""
    folder = tmp_path_factory.mktemp("video")
    tried = []
    for fourcc, suffix in (("mp4v", ".mp4"), ("MJPG", ".avi")):
        path = folder / f"clip_{fourcc}{suffix}"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10.0, VIDEO_SIZE)
        if not writer.isOpened():
            tried.append(f"{fourcc}: writer did not open")
            continue
        for i in range(VIDEO_FRAMES):
            writer.write(np.full((VIDEO_SIZE[1], VIDEO_SIZE[0], 3), _level(i), np.uint8))
        writer.release()
        cap = cv2.VideoCapture(str(path))
        count = 0
        while cap.read()[0]:
            count += 1
        cap.release()
        if count == VIDEO_FRAMES:
            return path
        tried.append(f"{fourcc}: read back {count} of {VIDEO_FRAMES} frames")
    pytest.skip(f"this OpenCV build cannot write and read back a test video ({'; '.join(tried)})")


# --- ReplayCamera: folder of images -----------------------------------------------------------


def test_replay_folder_frames_are_rgb_in_name_order(image_folder: Path) -> None:
    cam = ReplayCamera(image_folder, loop=False, realtime=False, clock=FakeClock())
    with cam:
        frames = [cam.read() for _ in range(len(FOLDER_FRAMES))]
        assert cam.read() is None  # notes.txt ignored, broken.jpg skipped, end reached
        assert cam.read() is None  # and stays at the end
    for i, (frame, (name, (h, w), rgb, tol)) in enumerate(zip(frames, FOLDER_FRAMES, strict=True)):
        assert frame is not None, name
        assert_rgb_frame(frame, h, w)
        assert frame.index == i
        np.testing.assert_allclose(centre(frame), rgb, atol=tol, err_msg=name)


def test_replay_folder_skips_corrupt_image_with_warning(
    image_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with ReplayCamera(image_folder, loop=False, realtime=False, clock=FakeClock()) as cam:
        while cam.read() is not None:
            pass
    assert "c_broken.jpg" in caplog.text
    assert "notes.txt" not in caplog.text  # not an image suffix: never even tried


def test_replay_folder_loops(image_folder: Path) -> None:
    n = len(FOLDER_FRAMES)
    with ReplayCamera(image_folder, loop=True, realtime=False, clock=FakeClock()) as cam:
        frames = [cam.read() for _ in range(2 * n + 1)]
    assert all(f is not None for f in frames)
    assert [f.index for f in frames] == list(range(2 * n + 1))
    for i, frame in enumerate(frames):
        _, (h, w), rgb, tol = FOLDER_FRAMES[i % n]
        assert (frame.height, frame.width) == (h, w)
        np.testing.assert_allclose(centre(frame), rgb, atol=tol)


def test_replay_folder_uppercase_suffix_and_16_bit_png(tmp_path: Path) -> None:
    deep = np.full((8, 9), 0x8000, np.uint16)
    assert cv2.imwrite(str(tmp_path / "a.PNG"), deep)
    with ReplayCamera(tmp_path, loop=False, realtime=False, clock=FakeClock()) as cam:
        frame = cam.read()
        assert cam.read() is None
    assert frame is not None
    assert_rgb_frame(frame, 8, 9)
    assert (frame.image == 128).all()


def test_replay_reopen_starts_over(image_folder: Path) -> None:
    cam = ReplayCamera(image_folder, loop=False, realtime=False, clock=FakeClock())
    with cam:
        first = cam.read()
        cam.read()
    with cam:
        again = cam.read()
    assert first is not None and again is not None
    np.testing.assert_array_equal(first.image, again.image)


# --- ReplayCamera: video ----------------------------------------------------------------------


def test_replay_video_frame_count_and_order(video_file: Path) -> None:
    w, h = VIDEO_SIZE
    with ReplayCamera(video_file, loop=False, realtime=False, clock=FakeClock()) as cam:
        frames = []
        while (frame := cam.read()) is not None:
            frames.append(frame)
            assert len(frames) <= VIDEO_FRAMES, "a loop=False video must end"
        assert cam.read() is None
    assert len(frames) == VIDEO_FRAMES
    for i, frame in enumerate(frames):
        assert_rgb_frame(frame, h, w)
        assert frame.index == i
        assert abs(float(frame.image.mean()) - _level(i)) < 10


def test_replay_video_loops(video_file: Path) -> None:
    with ReplayCamera(video_file, loop=True, realtime=False, clock=FakeClock()) as cam:
        frames = [cam.read() for _ in range(2 * VIDEO_FRAMES + 2)]
    assert all(f is not None for f in frames)
    assert [f.index for f in frames] == list(range(2 * VIDEO_FRAMES + 2))
    for i, frame in enumerate(frames):
        assert abs(float(frame.image.mean()) - _level(i % VIDEO_FRAMES)) < 10


# --- pacing -----------------------------------------------------------------------------------


def test_replay_realtime_paces_on_the_clock(image_folder: Path) -> None:
    clock = FakeClock(start=100.0)
    with ReplayCamera(image_folder, fps=10, loop=True, realtime=True, clock=clock) as cam:
        stamps = [cam.read().timestamp for _ in range(6)]
    assert stamps[0] == pytest.approx(100.0)
    np.testing.assert_allclose(np.diff(stamps), 0.1, atol=1e-9)
    assert clock.monotonic() == pytest.approx(100.5)


def test_replay_realtime_does_not_burst_after_a_stall(image_folder: Path) -> None:
    clock = FakeClock()
    with ReplayCamera(image_folder, fps=10, loop=True, realtime=True, clock=clock) as cam:
        for _ in range(3):
            cam.read()
        clock.advance(5.0)  # the consumer stalled for 50 frame periods
        stalled_at = clock.monotonic()
        stamps = [cam.read().timestamp for _ in range(6)]
    # No catch-up burst: straight back to 0.1 s spacing, not 50 frames at once.
    assert stamps[0] == pytest.approx(stalled_at)
    np.testing.assert_allclose(np.diff(stamps), 0.1, atol=1e-9)


def test_replay_not_realtime_does_not_touch_the_clock(image_folder: Path) -> None:
    clock = FakeClock(start=7.0)
    with ReplayCamera(image_folder, fps=10, loop=True, realtime=False, clock=clock) as cam:
        stamps = [cam.read().timestamp for _ in range(10)]
    assert stamps == [7.0] * 10
    assert clock.monotonic() == 7.0


# --- errors -----------------------------------------------------------------------------------


def test_replay_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(CameraError, match="does not exist") as info:
        ReplayCamera(missing, clock=FakeClock()).open()
    assert str(missing) in str(info.value)


def test_replay_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match="no JPEG/PNG images") as info:
        ReplayCamera(tmp_path, clock=FakeClock()).open()
    assert str(tmp_path) in str(info.value)


def test_replay_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "frame.jpg.bak").write_bytes(b"x")
    with pytest.raises(CameraError, match="no JPEG/PNG images") as info:
        ReplayCamera(tmp_path, clock=FakeClock()).open()
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize("loop", [True, False])
def test_replay_folder_of_only_unreadable_images(tmp_path: Path, loop: bool) -> None:
    (tmp_path / "a.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "b.png").write_bytes(b"not a png")
    (tmp_path / "c.png").write_bytes(b"")
    cam = ReplayCamera(tmp_path, loop=loop, realtime=False, clock=FakeClock())
    cam.open()  # the folder has image names; they are only decoded on read
    with pytest.raises(CameraError, match="none of the images") as info:
        cam.read()
    assert str(tmp_path) in str(info.value)


def test_replay_file_that_is_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("operator notes, not a video\n" * 10)
    with pytest.raises(CameraError, match="cannot decode") as info:
        ReplayCamera(path, clock=FakeClock()).open()
    assert str(path) in str(info.value)


def test_replay_read_before_open(image_folder: Path) -> None:
    with pytest.raises(CameraError, match=r"read\(\) before open\(\)"):
        ReplayCamera(image_folder, clock=FakeClock()).read()


@pytest.mark.parametrize("fps", [0, -1, -0.5])
def test_replay_fps_must_be_positive(image_folder: Path, fps: float) -> None:
    with pytest.raises(CameraError, match="fps must be positive"):
        ReplayCamera(image_folder, fps=fps)


def test_replay_context_manager_closes(image_folder: Path) -> None:
    with ReplayCamera(image_folder, realtime=False, clock=FakeClock()) as cam:
        assert cam.read() is not None
    with pytest.raises(CameraError):
        cam.read()


def test_replay_context_manager_closes_video(video_file: Path) -> None:
    with ReplayCamera(video_file, realtime=False, clock=FakeClock()) as cam:
        assert cam.read() is not None
    assert cam._video is None  # the VideoCapture was released
    with pytest.raises(CameraError):
        cam.read()


def test_replay_context_manager_closes_on_error(image_folder: Path) -> None:
    cam = ReplayCamera(image_folder, realtime=False, clock=FakeClock())
    with pytest.raises(ZeroDivisionError), cam:
        cam.read()
        1 / 0  # noqa: B018
    with pytest.raises(CameraError):
        cam.read()


# --- make_camera ------------------------------------------------------------------------------


def test_make_camera_replay(tmp_path: Path) -> None:
    clock = FakeClock()
    cfg = ReplayCameraConfig(type="replay", path=tmp_path, fps=12.5, loop=False, realtime=False)
    cam = make_camera(cfg, clock=clock)
    assert isinstance(cam, ReplayCamera)
    assert isinstance(cam, Camera)
    assert (cam.path, cam.fps, cam.loop, cam.realtime) == (tmp_path, 12.5, False, False)
    assert cam.clock is clock


def test_make_camera_opencv() -> None:
    clock = FakeClock()
    cfg = OpenCVCameraConfig(type="opencv", device="/dev/video2", width=320, height=240, fps=10)
    cam = make_camera(cfg, clock=clock)
    assert isinstance(cam, OpenCVCamera)
    assert isinstance(cam, Camera)
    assert (cam.device, cam.width, cam.height, cam.fps) == ("/dev/video2", 320, 240, 10.0)
    assert cam.clock is clock
    assert cam._cap is None  # built, not opened


def test_make_camera_picamera2() -> None:
    clock = FakeClock()
    cfg = Picamera2CameraConfig(
        type="picamera2", camera_num=1, width=800, height=600, fps=20, hflip=True, vflip=False
    )
    cam = make_camera(cfg, clock=clock)
    assert isinstance(cam, Picamera2Camera)
    assert isinstance(cam, Camera)
    assert (cam.camera_num, cam.width, cam.height, cam.fps) == (1, 800, 600, 20.0)
    assert (cam.hflip, cam.vflip) == (True, False)
    assert cam.clock is clock
    assert cam._cam is None  # built, not opened


# --- OpenCVCamera -----------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["/dev/video99", 99, "99"])
def test_opencv_missing_device_is_a_helpful_camera_error(device: int | str) -> None:
    cam = OpenCVCamera(device, clock=FakeClock())
    started = time.monotonic()
    with pytest.raises(CameraError) as info:
        cam.open()
    assert time.monotonic() - started < 5.0, "opening a missing device must not hang"
    message = str(info.value)
    assert "99" in message
    assert "'video' group" in message
    assert "plugged in" in message
    with pytest.raises(CameraError, match=r"read\(\) before open\(\)"):
        cam.read()


def test_opencv_read_before_open() -> None:
    with pytest.raises(CameraError, match=r"read\(\) before open\(\)"):
        OpenCVCamera(0).read()


# --- Picamera2Camera --------------------------------------------------------------------------


def test_picamera2_module_imports_without_picamera2() -> None:
    # A fresh interpreter where ``import picamera2`` fails even if it is installed.
    code = (
        "import sys; sys.modules['picamera2'] = None; sys.modules['libcamera'] = None\n"
        "import facegate.capture.picamera2 as m, facegate.capture as c\n"
        "assert c.Picamera2Camera is m.Picamera2Camera\n"
        "print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_picamera2_missing_is_a_camera_error_with_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)
    cam = Picamera2Camera(clock=FakeClock())
    with pytest.raises(CameraError) as info:
        cam.open()
    message = str(info.value)
    assert "apt" in message
    assert "python3-picamera2" in message
    assert "--system-site-packages" in message
    with pytest.raises(CameraError, match=r"read\(\) before open\(\)"):
        cam.read()


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            ValueError(
                "numpy.dtype size changed, may indicate binary incompatibility. Expected 96 "
                "from C header, got 88 from PyObject"
            ),
            r"numpy\.dtype size changed.*numpy 1\.x.*`picamera` extra",
        ),
        (RuntimeError("libcamera: no cameras available"), r"RuntimeError: libcamera"),
        (AttributeError("module 'libcamera' has no attribute 'Transform'"), "AttributeError"),
        (ImportError("libgbm.so.1: cannot open shared object file"), "cannot be imported"),
        (ModuleNotFoundError("No module named 'libcamera'", name="libcamera"), "apt install"),
    ],
)
def test_any_picamera2_import_failure_is_one_camera_error(
    monkeypatch: pytest.MonkeyPatch, error: Exception, expected: str
) -> None:
    """Raspberry Pi OS's picamera2 stack fails in many ways once the venv differs from the
    system (picamera2 issues #1088, #1170, #1211); each is a CameraError with the fix."""
    import builtins

    real_import = builtins.__import__

    def failing_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "picamera2":
            raise error
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    monkeypatch.setattr(builtins, "__import__", failing_import)
    with pytest.raises(CameraError, match=expected) as info:
        Picamera2Camera(clock=FakeClock()).open()
    assert info.value.__cause__ is error


class FakePicamera2:
    """Just enough of ``picamera2.Picamera2`` for the adapter."""

    instances: ClassVar[list[FakePicamera2]] = []
    fail_on: ClassVar[str | None] = None

    def __init__(self, camera_num: int = 0) -> None:
        if self.fail_on == "init":
            raise IndexError("list index out of range")
        self.camera_num = camera_num
        self.calls: list[str] = []
        self.config: dict[str, Any] | None = None
        self.frames = 0
        FakePicamera2.instances.append(self)

    def create_video_configuration(
        self, main: dict[str, Any], controls: dict[str, Any], buffer_count: int
    ) -> dict[str, Any]:
        self.calls.append("create_video_configuration")
        return {"main": dict(main), "controls": dict(controls), "buffer_count": buffer_count}

    def configure(self, config: dict[str, Any]) -> None:
        self.calls.append("configure")
        self.config = config

    def start(self) -> None:
        if self.fail_on == "start":
            raise RuntimeError("Camera __init__ sequence did not complete.")
        self.calls.append("start")

    def capture_array(self, name: str = "main") -> np.ndarray:
        if self.fail_on == "capture":
            raise RuntimeError("Camera frontend has timed out!")
        assert name == "main"
        assert self.config is not None
        w, h = self.config["main"]["size"]
        # XBGR8888 is R, G, B, X in memory: channel 3 is padding.
        array = np.empty((h, w, 4), np.uint8)
        array[..., 0] = 200
        array[..., 1] = 100
        array[..., 2] = 30 + self.frames
        array[..., 3] = 255
        self.frames += 1
        return array

    def stop(self) -> None:
        self.calls.append("stop")
        if self.fail_on == "stop":
            raise RuntimeError("stop failed")

    def close(self) -> None:
        self.calls.append("close")


@pytest.fixture
def fake_picamera2(monkeypatch: pytest.MonkeyPatch) -> type[FakePicamera2]:
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", module)
    monkeypatch.setitem(sys.modules, "libcamera", None)  # no Transform: flips are ignored
    monkeypatch.setattr(FakePicamera2, "instances", [])
    monkeypatch.setattr(FakePicamera2, "fail_on", None)
    return FakePicamera2


def test_picamera2_adapter_frames_are_rgb_without_padding(
    fake_picamera2: type[FakePicamera2],
) -> None:
    clock = FakeClock(start=3.0)
    cam = Picamera2Camera(camera_num=1, width=64, height=48, fps=20, clock=clock)
    with cam:
        (device,) = fake_picamera2.instances
        assert device.camera_num == 1
        assert device.calls == ["create_video_configuration", "configure", "start"]
        assert device.config is not None
        assert device.config["main"] == {"size": (64, 48), "format": "XBGR8888"}
        assert device.config["controls"]["FrameRate"] == 20.0
        first = cam.read()
        clock.advance(0.05)
        second = cam.read()
    assert first is not None and second is not None
    assert_rgb_frame(first, 48, 64)
    assert (first.image == np.array([200, 100, 30], np.uint8)).all()
    assert (second.image == np.array([200, 100, 31], np.uint8)).all()
    assert (first.index, second.index) == (0, 1)
    assert (first.timestamp, second.timestamp) == (3.0, 3.05)
    assert device.calls[-2:] == ["stop", "close"]
    with pytest.raises(CameraError):
        cam.read()


def test_picamera2_flip_without_libcamera_is_ignored_with_warning(
    fake_picamera2: type[FakePicamera2], caplog: pytest.LogCaptureFixture
) -> None:
    with Picamera2Camera(hflip=True, clock=FakeClock()) as cam:
        assert cam.read() is not None
    assert "flip settings ignored" in caplog.text


def test_picamera2_flip_uses_libcamera_transform(
    fake_picamera2: type[FakePicamera2], monkeypatch: pytest.MonkeyPatch
) -> None:
    libcamera = types.ModuleType("libcamera")

    class Transform:
        def __init__(self, hflip: int = 0, vflip: int = 0) -> None:
            self.hflip, self.vflip = hflip, vflip

    libcamera.Transform = Transform  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "libcamera", libcamera)
    with Picamera2Camera(hflip=False, vflip=True, clock=FakeClock()):
        (device,) = fake_picamera2.instances
        assert device.config is not None
        transform = device.config["transform"]
        assert (transform.hflip, transform.vflip) == (0, 1)


@pytest.mark.parametrize("stage", ["init", "start"])
def test_picamera2_start_failure_is_a_camera_error(
    fake_picamera2: type[FakePicamera2], stage: str
) -> None:
    fake_picamera2.fail_on = stage
    cam = Picamera2Camera(camera_num=2, clock=FakeClock())
    with pytest.raises(CameraError, match="cannot start camera 2"):
        cam.open()


def test_picamera2_capture_failure_is_a_camera_error(
    fake_picamera2: type[FakePicamera2],
) -> None:
    with Picamera2Camera(clock=FakeClock()) as cam:
        fake_picamera2.fail_on = "capture"
        with pytest.raises(CameraError, match="capture failed"):
            cam.read()


def test_picamera2_close_swallows_errors_and_is_idempotent(
    fake_picamera2: type[FakePicamera2],
) -> None:
    cam = Picamera2Camera(clock=FakeClock())
    cam.open()
    (device,) = fake_picamera2.instances
    fake_picamera2.fail_on = "stop"
    cam.close()  # must not raise
    cam.close()
    assert device.calls.count("stop") == 1
    with pytest.raises(CameraError):
        cam.read()


# --- LatestFrame ------------------------------------------------------------------------------


def make_frame(index: int) -> Frame:
    return Frame(image=np.full((2, 2, 3), index, np.uint8), index=index, timestamp=float(index))


def wait_until_waiting(slot: LatestFrame, deadline_s: float = 5.0) -> None:
    """Spin (no sleep) until a reader is blocked on the slot's condition."""
    end = time.monotonic() + deadline_s
    while not slot._cond._waiters:  # type: ignore[attr-defined]
        assert time.monotonic() < end, "the reader never started waiting"


def test_latest_frame_keeps_only_the_newest() -> None:
    slot = LatestFrame()
    for i in range(3):
        slot.put(make_frame(i))
    frame = slot.get(timeout=0)
    assert frame is not None and frame.index == 2
    assert slot.dropped == 2
    assert slot.received == 3
    assert slot.get(timeout=0) is None  # taking it empties the slot
    slot.put(make_frame(3))
    assert slot.get(timeout=0).index == 3
    assert slot.dropped == 2  # a frame that was taken is not a dropped one


def test_latest_frame_get_times_out_when_empty() -> None:
    slot = LatestFrame()
    started = time.monotonic()
    assert slot.get(timeout=0.01) is None
    assert time.monotonic() - started < 2.0
    assert not slot.closed
    assert slot.error is None


def test_latest_frame_put_wakes_a_waiting_reader() -> None:
    slot = LatestFrame()
    got: list[Frame | None] = []
    reader = threading.Thread(target=lambda: got.append(slot.get(timeout=30)))
    reader.start()
    wait_until_waiting(slot)
    slot.put(make_frame(5))
    reader.join(timeout=5)
    assert not reader.is_alive()
    assert got[0] is not None and got[0].index == 5


def test_latest_frame_fail_wakes_a_waiting_reader() -> None:
    slot = LatestFrame()
    got: list[Frame | None] = []
    reader = threading.Thread(target=lambda: got.append(slot.get(timeout=30)))
    reader.start()
    wait_until_waiting(slot)
    error = CameraError("camera unplugged")
    slot.fail(error)
    reader.join(timeout=5)
    assert not reader.is_alive(), "fail() did not wake the reader"
    assert got == [None]
    assert slot.error is error
    assert slot.closed


def test_latest_frame_closed_only_once_drained() -> None:
    slot = LatestFrame()
    slot.put(make_frame(1))
    slot.close()
    assert not slot.closed  # a frame is still waiting to be taken
    started = time.monotonic()
    assert slot.get(timeout=30).index == 1
    assert slot.closed
    assert slot.get(timeout=30) is None  # closed and empty: returns at once
    assert time.monotonic() - started < 5.0
    assert slot.error is None


# --- CaptureThread ----------------------------------------------------------------------------


class RaisingCamera:
    """A camera that yields ``frames`` frames, then raises ``exc``."""

    name = "raising"

    def __init__(self, exc: BaseException, frames: int = 1) -> None:
        self.exc = exc
        self.frames = frames
        self.reads = 0

    def open(self) -> None:
        pass

    def read(self) -> Frame | None:
        self.reads += 1
        if self.reads > self.frames:
            raise self.exc
        return make_frame(self.reads - 1)

    def close(self) -> None:
        pass

    def __enter__(self) -> RaisingCamera:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def run_capture(camera: Any) -> LatestFrame:
    slot = LatestFrame()
    thread = CaptureThread(camera, slot)
    assert thread.daemon
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive(), "the capture thread did not end"
    return slot


def test_capture_thread_ends_with_a_finite_source(image_folder: Path) -> None:
    with ReplayCamera(image_folder, loop=False, realtime=False, clock=FakeClock()) as cam:
        slot = run_capture(cam)
    assert slot.error is None
    assert slot.received == len(FOLDER_FRAMES)
    assert slot.dropped == len(FOLDER_FRAMES) - 1
    assert not slot.closed  # the newest frame is still there for the loop
    last = slot.get(timeout=0)
    assert last is not None and last.index == len(FOLDER_FRAMES) - 1
    assert slot.closed


def test_capture_thread_camera_error_reaches_the_slot() -> None:
    error = CameraError("opencv: camera 0 returned no frame 10 times in a row (unplugged?)")
    slot = run_capture(RaisingCamera(error, frames=2))
    assert slot.error is error
    assert slot.received == 2
    assert slot.get(timeout=0).index == 1
    assert slot.closed


def test_capture_thread_crash_still_fails_safe() -> None:
    slot = run_capture(RaisingCamera(RuntimeError("backend bug"), frames=0))
    assert isinstance(slot.error, CameraError)
    assert "backend bug" in str(slot.error)
    assert slot.closed
    assert slot.get(timeout=30) is None


def test_capture_thread_stop(image_folder: Path) -> None:
    with ReplayCamera(image_folder, loop=True, realtime=False, clock=FakeClock()) as cam:
        slot = LatestFrame()
        thread = CaptureThread(cam, slot)
        thread.start()
        assert slot.get(timeout=5) is not None  # it is running on an endless source
        thread.stop()
        thread.join(timeout=5)
        assert not thread.is_alive()
    slot.get(timeout=0)
    assert slot.closed
    assert slot.error is None


def test_replay_single_image_file_is_a_still_camera(tmp_path: Path) -> None:
    path = tmp_path / "still.png"
    cv2.imwrite(str(path), np.full((48, 64, 3), (0, 0, 255), np.uint8))  # BGR red
    with ReplayCamera(path, fps=5, loop=True, realtime=False) as cam:
        frames = [cam.read() for _ in range(3)]
    assert [f.index for f in frames] == [0, 1, 2]  # type: ignore[union-attr]
    assert frames[0].image[0, 0].tolist() == [255, 0, 0]  # type: ignore[union-attr]
    with ReplayCamera(path, fps=5, loop=False, realtime=False) as cam:
        assert cam.read() is not None
        assert cam.read() is None
