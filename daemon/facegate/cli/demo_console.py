"""``facegate demo --console``: the real daemon and the web console on this machine.

A throwaway state folder and master key, the demo's configuration with mock GPIO pins and a
looping replay clip (the demo's public-domain resident, then a stranger, then an empty
scene), the daemon's admin socket in that folder, and ``facegate-web`` on
https://127.0.0.1:8443 with a self-signed certificate and a demo admin account whose random
password is printed. The resident is enrolled through the console's own path (templates sent
over the admin socket with a demo consent record), so the live timeline shows a GRANTED row
every time the clip comes round. Everything is deleted at Ctrl-C.
"""

from __future__ import annotations

import base64
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = ["run_console_demo"]

DEMO_USER = "demo"


def _frame(image: np.ndarray | None) -> np.ndarray:
    """The portrait's head and shoulders (its top three quarters, middle three quarters) on a
    grey 640 x 480 frame: the face about 100 px wide, a person at the terminal, inside the
    default face zone (at least 80 px)."""
    frame = np.full((480, 640, 3), 90, np.uint8)
    if image is not None:
        h, w = image.shape[:2]
        image = image[: h * 3 // 4, w // 8 : w - w // 8]
        scale = 400 / max(image.shape[:2])
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frame[40 : 40 + small.shape[0], 120 : 120 + small.shape[1]] = small
    return frame


def _write_clip(folder: Path, resident: np.ndarray, stranger: np.ndarray, fps: int) -> None:
    """Empty 3 s, the resident 2 s, empty 3 s, a stranger 2 s: a 10 s loop."""
    folder.mkdir()
    frames = (
        [_frame(None)] * (3 * fps)
        + [_frame(resident)] * (2 * fps)
        + [_frame(None)] * (3 * fps)
        + [_frame(stranger)] * (2 * fps)
    )
    for i, rgb in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:03d}.png"), rgb[:, :, ::-1])


def run_console_demo(
    *,
    models_dir: Path | None,
    port: int,
    say: Callable[[str], None],
    stop: threading.Event | None = None,
    on_ready: Callable[[str, str, str], None] | None = None,
) -> None:
    """Run until ``stop`` is set (or Ctrl-C); ``on_ready(url, user, password)`` once serving."""
    import uvicorn

    from ..admin import AdminClient
    from ..compliance.notice_text import build_notice
    from ..compliance.records import record_notice
    from ..config.appliance import AdminConfig
    from ..demo.run import DOOR_CONTACT_PIN, builtin_config
    from ..gate import make_pin_factory
    from ..measure.clip import load_portraits
    from ..recognition import FacePipeline
    from ..service.app import App
    from ..store import create_master_key, load_master_key
    from ..web import WebSettings, create_app
    from ..web.accounts import Accounts
    from ..web.tls import make_self_signed

    with tempfile.TemporaryDirectory(prefix="facegate-console-demo-") as tmp_name:
        tmp = Path(tmp_name)
        cfg = builtin_config(tmp)
        fps = 5
        update: dict[str, Any] = {
            "camera": cfg.camera.model_copy(
                update={"path": tmp / "clip", "loop": True, "fps": fps, "realtime": True}
            ),
            "admin": AdminConfig(socket=tmp / "admin.sock", group=None),
        }
        if models_dir is not None:
            update["models"] = cfg.models.model_copy(update={"dir": models_dir})
        cfg = cfg.model_copy(update=update)
        say("loading the face models and the demo portraits…")
        pipeline = FacePipeline(cfg)

        def find_face(image: np.ndarray) -> tuple[float, float, float, float] | None:
            faces = pipeline.detector.detect(image)
            return max(faces, key=lambda d: d.area).box if faces else None

        portraits = load_portraits(find_face)
        _write_clip(tmp / "clip", portraits["resident"].image, portraits["stranger"].image, fps)
        found = pipeline.template_for_photo(portraits["resident"].image)
        assert found.template is not None
        key_path = tmp / "state" / "master.key"
        create_master_key(key_path)
        assert cfg.notice is not None  # demo.yaml has one
        bundle = build_notice(cfg)  # the sign, as posted
        record_notice(cfg.store.state_dir, bundle, now=time.time())
        app = App(cfg, pin_factory=make_pin_factory("mock"), master_key=load_master_key(key_path))
        app.start()
        app.pin_factory.pin(DOOR_CONTACT_PIN).drive_low()  # the door is shut (NC reed closed)
        loop = threading.Thread(target=app.run, name="demo-daemon", daemon=True)
        loop.start()
        server: Any = None
        try:
            with AdminClient(cfg.admin.socket) as client:
                reply = client.call(
                    "enroll",
                    templates=[base64.b64encode(found.template.astype("<f4").tobytes()).decode()],
                    space=pipeline.space,
                    consent_method="paper-form",
                    consent_ref="DEMO-0001",  # a synthetic form number
                    adult=True,
                    notice_version=bundle.version,
                    taken_by="demo",
                    name="Demo Resident",
                )
            say(f"enrolled the demo resident as {reply['person']} through the admin socket")
            password = secrets.token_urlsafe(12)
            accounts = Accounts(tmp / "web" / "accounts.json")
            accounts.add(DEMO_USER, "admin", password)
            cert, key = make_self_signed(
                tmp / "web" / "cert.pem", tmp / "web" / "key.pem", ["127.0.0.1", "localhost"]
            )
            settings = WebSettings(
                socket=cfg.admin.socket, accounts=accounts.path, config=None, lang="zh-CN"
            )
            web = create_app(settings)
            web.state.console.use_config(cfg)  # the demo's configuration is in memory only
            server = uvicorn.Server(
                uvicorn.Config(
                    web,
                    host="127.0.0.1",
                    port=port,
                    ssl_certfile=str(cert),
                    ssl_keyfile=str(key),
                    lifespan="off",
                    access_log=False,
                    server_header=False,
                    log_level="warning",
                )
            )
            serving = threading.Thread(target=server.run, name="demo-console", daemon=True)
            serving.start()
            while not server.started:
                if not serving.is_alive():
                    raise OSError(f"the console could not listen on 127.0.0.1:{port}")
                serving.join(0.05)
            url = f"https://127.0.0.1:{port}"
            if on_ready is not None:
                on_ready(url, DEMO_USER, password)
            waiter = stop or threading.Event()
            while not waiter.wait(0.5):
                if not serving.is_alive():
                    break
        finally:
            if server is not None:
                server.should_exit = True
            app.stop()
            loop.join(timeout=10)
            app.close()
