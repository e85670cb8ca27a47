"""One post with an image, published to all nine platforms at once, offline."""

from __future__ import annotations

import io
import time
from pathlib import Path

import httpx
from PIL import Image
from support.processes import Process, clean_env

from syndic.platforms.base import PLATFORMS

OPTIONS = {
    "reddit": {"title": "Release notes", "subreddit": "syndic_sandbox"},
    "devto": {
        "title": "Release notes",
        "tags": ["release", "python"],
        "main_image": "https://example.org/cover.png",
    },
    "medium": {"title": "Release notes", "publish_status": "draft"},
}


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 360), (30, 120, 200)).save(out, "JPEG", quality=85)
    return out.getvalue()


def test_one_post_with_an_image_reaches_all_nine_platforms(
    tmp_path: Path, processes: list[Process]
) -> None:
    server = Process(tmp_path, clean_env())
    processes.append(server)
    server.start("serve", "--sandbox")
    server.wait_ready()
    _, headers = server.user_and_key(tier="max")

    media = httpx.post(
        f"{server.url}/v1/media",
        headers=headers,
        files={"file": ("release.jpg", photo(), "image/jpeg")},
        data={"alt": "a blue banner"},
    )
    assert media.status_code == 201, media.text
    answer = httpx.post(
        f"{server.url}/v1/posts/schedule",
        headers=headers,
        json={
            "text": "syndic 1.0 is out: one post, nine platforms 🚀 https://example.org/v1",
            "platforms": list(PLATFORMS),
            "media": [media.json()["id"]],
            "options": OPTIONS,
        },
        timeout=30,
    )
    assert answer.status_code == 201, answer.text

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        view = httpx.get(
            f"{server.url}/v1/posts/{answer.json()['id']}", headers=headers
        ).json()
        if view["status"] not in ("pending", "dispatched"):
            break
        time.sleep(0.2)

    results = {d["platform"]: (d["status"], d["error"]) for d in view["deliveries"]}
    assert view["status"] == "published", results
    assert all(d["remote_id"] for d in view["deliveries"])
    received = httpx.get(f"{server.url}/_sandbox/requests").json()["requests"]
    assert {entry["platform"] for entry in received} >= set(PLATFORMS)
