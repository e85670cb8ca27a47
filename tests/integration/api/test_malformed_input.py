"""No request, however malformed, gets a 500: every route, every kind of junk."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
from support.server import Server, serve

from syndic.db.engine import Database

BODIES: list[tuple[bytes, str]] = [
    (b"", "application/json"),
    (b"{", "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
    (b"[]", "application/json"),
    (b"null", "application/json"),
    (b'{"text": 1, "platforms": "discord"}', "application/json"),
    (b'{"text": "hi", "platforms": ["myspace"]}', "application/json"),
    (
        b'{"text": "hi", "platforms": ["x"], "scheduled_at": "2031-02-30T25:61Z"}',
        "application/json",
    ),
    (
        b'{"text": "hi", "platforms": ["discord"], "media": [{"data": "%%%"}]}',
        "application/json",
    ),
    (b'{"credentials": "nope"}', "application/json"),
    (b'{"a": ' * 5000 + b"1" + b"}" * 5000, "application/json"),
    (b"text=hello", "application/x-www-form-urlencoded"),
    (
        b"--x\r\nContent-Disposition: form-data; name=file\r\n\r\n\r\n--x--",
        "multipart/form-data; boundary=x",
    ),
    (b"plain words", "text/plain"),
]
PATH_VALUES = ["x", "%00", "..%2F..", "a" * 600, "%F0%9F%92%A5", "usr_" + "0" * 24]
QUERIES = [
    "",
    "?limit=-1",
    "?limit=abc&status=%00",
    "?before=" + "z" * 600,
    "?platform=nope",
]


@pytest.fixture
async def server(db: Database) -> AsyncIterator[Server]:
    # limits off: a 429 would hide what the route itself does with the junk
    async with serve(
        db, sandbox=True, run_scheduler=False, rate_limit_enabled=False
    ) as running:
        yield running


def routes(server: Server) -> list[tuple[str, str]]:
    """Every (method, path) the OpenAPI document describes."""
    paths = server.app.openapi()["paths"]
    return sorted(
        (method.upper(), path) for path, item in paths.items() for method in item
    )


def fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def assert_clean(response: object, where: str) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    assert status < 500, f"{where} answered {status}: {response.text[:300]}"  # type: ignore[attr-defined]
    if status >= 400:
        error = response.json()["error"]  # type: ignore[attr-defined]
        assert isinstance(error["code"], str)
        assert isinstance(error["message"], str)
        assert "Traceback" not in response.text  # type: ignore[attr-defined]


async def test_every_route_answers_junk_with_a_4xx_in_our_shape(server: Server) -> None:
    _, user = await server.user_with_key(tier="free", admin=True)
    website = {
        "X-Internal-Secret": server.rt.settings.internal_api_secret.get_secret_value()
    }
    strangers: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer syn_live_nothex"},
        {"Authorization": "Bearer " + "syn_live_" + "0" * 48},
    ]
    checked = 0
    for method, path in routes(server):
        if path.startswith("/v1/ws"):
            continue
        insider = website if path.startswith("/internal") else user
        for value in PATH_VALUES[:2] if "{" in path else ["-"]:
            url = fill(path, value)
            for headers in [*strangers, insider]:
                response = await server.client.request(
                    method, url + QUERIES[1], headers=headers
                )
                assert_clean(response, f"{method} {url}")
                checked += 1
            if method not in ("POST", "PUT", "PATCH"):
                continue
            for body, content_type in BODIES:
                response = await server.client.request(
                    method,
                    url,
                    headers={**insider, "Content-Type": content_type},
                    content=body,
                )
                assert_clean(response, f"{method} {url} with {body[:40]!r}")
                checked += 1
    assert checked > 300


async def test_odd_path_values_and_queries_never_fail(server: Server) -> None:
    _, user = await server.user_with_key(tier="max", admin=True)
    for method, path in routes(server):
        if "{" not in path or method not in ("GET", "DELETE"):
            continue
        for value in PATH_VALUES:
            for query in QUERIES:
                response = await server.client.request(
                    method, fill(path, value) + query, headers=user
                )
                assert_clean(response, f"{method} {fill(path, value)}{query}")


async def test_unknown_routes_and_methods_answer_in_our_shape(server: Server) -> None:
    missing = await server.client.get("/v2/nothing")
    wrong_method = await server.client.patch("/v1/posts/schedule")

    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


async def raw_post(
    server: Server, path: str, headers: dict[str, str], chunks: int
) -> int:
    """POST over a bare socket: headers, then `chunks` chunks of 1 MiB; the status."""
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    chunk = b"a" * (1 << 20)
    try:
        for _ in range(chunks):
            if "Transfer-Encoding" in headers:
                writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
            if reader.at_eof() or reader._buffer:
                break
    except ConnectionError:
        pass
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    return int(status_line.split()[1])


async def test_bodies_over_a_routes_limit_are_refused_before_they_are_read(
    server: Server,
) -> None:
    _, user = await server.user_with_key(tier="max")
    json_type = {**user, "Content-Type": "application/json"}

    declared = await raw_post(
        server, "/v1/posts/validate", {**json_type, "Content-Length": str(40 << 20)}, 0
    )
    streamed = await raw_post(
        server, "/v1/posts/validate", {**json_type, "Transfer-Encoding": "chunked"}, 17
    )
    small_route = await raw_post(
        server, "/v1/keys/generate", {**json_type, "Content-Length": str(2 << 20)}, 0
    )

    assert (declared, streamed, small_route) == (413, 413, 413)
