"""The Telegram adapter against the Telegram emulator over real HTTP."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette

from syndic.platforms import base
from syndic.platforms.emulators import telegram as emulator
from syndic.platforms.emulators.recorder import Recorder
from syndic.platforms.telegram import TelegramAdapter

PLAIN = "Launch v2.0 (beta) - 50% off! Use code SAVE_20 #sale"


@pytest.fixture
def base_url(emulator_origin: str) -> str:
    return f"{emulator_origin}/telegram"


@pytest.fixture
def state(emulator_app: Starlette) -> Iterator[emulator.TelegramState]:
    telegram_state = emulator.EMULATOR.state(emulator_app)
    yield telegram_state
    telegram_state.clear_faults()


@pytest.fixture
def adapter(base_url: str, http: httpx.AsyncClient) -> TelegramAdapter:
    return TelegramAdapter(base_url, http, timeout=5.0)


@pytest.fixture
def credentials(
    state: emulator.TelegramState, adapter: TelegramAdapter
) -> dict[str, Any]:
    return adapter.check_credentials(state.add_account())


def stored(
    state: emulator.TelegramState, receipt: base.Receipt, credentials: dict[str, Any]
) -> list[dict[str, Any]]:
    """The emulator's copies of the receipt's messages, in the receipt's order."""
    chat = state.chat(credentials["chat_id"])
    assert chat is not None
    by_id = {
        str(message["message_id"]): message
        for message in state.messages
        if message["chat"]["id"] == chat.id
    }
    return [by_id[remote_id] for remote_id in (receipt.remote_id, *receipt.extra_ids)]


def photo(width: int = 8, height: int = 8, name: str = "p.png") -> base.Media:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, format="PNG")
    return base.Media("image/png", buffer.getvalue(), name)


def bot_url(base_url: str, token: str, method: str) -> str:
    return f"{base_url}/bot{token}/{method}"


async def test_a_message_returns_its_id_and_public_url(
    adapter: TelegramAdapter, state: emulator.TelegramState, credentials: dict[str, Any]
) -> None:
    receipt = await adapter.publish(base.Draft("hello"), credentials)

    username = str(credentials["chat_id"]).removeprefix("@")
    assert receipt.remote_id == "1"
    assert receipt.url == f"https://t.me/{username}/1"
    assert stored(state, receipt, credentials)[0]["text"] == "hello"


async def test_a_chat_without_username_gets_a_private_link(
    adapter: TelegramAdapter, state: emulator.TelegramState
) -> None:
    credentials = adapter.check_credentials(state.add_account(public=False))

    receipt = await adapter.publish(base.Draft("hello"), credentials)

    number = str(credentials["chat_id"]).removeprefix("-100")
    assert receipt.url == f"https://t.me/c/{number}/1"


@pytest.mark.parametrize(
    "plain", [PLAIN, "\\ _*[]()~`>#+-=|{}.! and more", "> not a quote", "a\\.b"]
)
async def test_plain_text_in_markdown_v2_is_shown_as_written(
    adapter: TelegramAdapter,
    state: emulator.TelegramState,
    credentials: dict[str, Any],
    plain: str,
) -> None:
    receipt = await adapter.publish(
        base.Draft(plain, {"parse_mode": "MarkdownV2"}), credentials
    )

    assert stored(state, receipt, credentials)[0]["text"] == plain


async def test_plain_text_in_html_is_shown_as_written(
    adapter: TelegramAdapter, state: emulator.TelegramState, credentials: dict[str, Any]
) -> None:
    plain = "if a < b && c > d then <b>no tags</b> &amp;"

    receipt = await adapter.publish(
        base.Draft(plain, {"parse_mode": "HTML"}), credentials
    )

    assert stored(state, receipt, credentials)[0]["text"] == plain


async def test_markup_is_sent_as_is_and_becomes_entities(
    adapter: TelegramAdapter, state: emulator.TelegramState, credentials: dict[str, Any]
) -> None:
    draft = base.Draft(
        "*Release* v2\\.0 is [out](https://example.com/r)",
        {"parse_mode": "MarkdownV2", "markup": True},
    )

    receipt = await adapter.publish(draft, credentials)

    (message,) = stored(state, receipt, credentials)
    assert message["text"] == "Release v2.0 is out"
    assert [entity["type"] for entity in message["entities"]] == ["bold", "text_link"]


async def test_the_emulator_refuses_half_escaped_markdown_v2_as_telegram_does(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    response = await http.post(
        bot_url(base_url, credentials["bot_token"], "sendMessage"),
        json={
            "chat_id": credentials["chat_id"],
            "text": "Launch v2.0 (beta) - 50% off! Use code SAVE\\_20 #sale",
            "parse_mode": "MarkdownV2",
        },
    )

    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: can't parse entities: Character '.' is reserved "
        "and must be escaped with the preceding '\\'",
    }


@pytest.mark.parametrize(
    ("fields", "description"),
    [
        ({"text": ""}, "Bad Request: message text is empty"),
        ({"text": "  \n"}, "Bad Request: message text is empty"),
        ({"text": "x" * 4097}, "Bad Request: message is too long"),
        ({"text": "🙂" * 2049}, "Bad Request: message is too long"),
        ({"text": "<i>x", "parse_mode": "HTML"}, "Bad Request: can't parse entities: "),
        ({"text": "AT&T", "parse_mode": "HTML"}, "Bad Request: can't parse entities: "),
        ({"text": "x", "parse_mode": "Klingon"}, "Bad Request: unsupported parse_mode"),
        ({"text": "x", "chat_id": "@nobody_here"}, "Bad Request: chat not found"),
        ({"text": "x", "chat_id": ""}, "Bad Request: chat_id is empty"),
    ],
)
async def test_the_emulator_refuses_bad_messages(
    base_url: str,
    http: httpx.AsyncClient,
    credentials: dict[str, Any],
    fields: dict[str, Any],
    description: str,
) -> None:
    response = await http.post(
        bot_url(base_url, credentials["bot_token"], "sendMessage"),
        json={"chat_id": credentials["chat_id"], **fields},
    )

    assert response.status_code == 400
    assert response.json()["description"].startswith(description)


async def test_text_at_the_limit_in_utf16_units_is_accepted(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    response = await http.post(
        bot_url(base_url, credentials["bot_token"], "sendMessage"),
        json={"chat_id": credentials["chat_id"], "text": "🙂" * 2048},
    )

    assert response.json()["ok"] is True


async def test_method_names_are_case_insensitive_and_get_takes_the_query(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    token = credentials["bot_token"]

    me = await http.get(bot_url(base_url, token, "GETME"))
    sent = await http.get(
        bot_url(base_url, token, "sendmessage"),
        params={"chat_id": credentials["chat_id"], "text": "by GET"},
    )
    form = await http.post(
        bot_url(base_url, token, "SendMessage"),
        data={"chat_id": str(credentials["chat_id"]), "text": "by form"},
    )

    assert me.json()["result"]["is_bot"] is True
    assert sent.json()["result"]["text"] == "by GET"
    assert form.json()["result"]["text"] == "by form"


async def test_the_emulator_answers_bad_tokens_as_telegram_does(
    base_url: str, http: httpx.AsyncClient
) -> None:
    malformed = await http.post(bot_url(base_url, "not-a-token", "getMe"))
    unknown = await http.post(bot_url(base_url, "123456:" + "A" * 35, "getMe"))

    assert (malformed.status_code, malformed.json()) == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert (unknown.status_code, unknown.json()) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )


async def test_a_revoked_token_is_rejected_credentials(
    adapter: TelegramAdapter, state: emulator.TelegramState, credentials: dict[str, Any]
) -> None:
    state.revoke(credentials["bot_token"])

    with pytest.raises(base.CredentialsRejected):
        await adapter.publish(base.Draft("hi"), credentials)


async def test_an_unknown_chat_is_permanent_with_telegrams_description(
    adapter: TelegramAdapter, credentials: dict[str, Any]
) -> None:
    wrong = {**credentials, "chat_id": "@no_such_chat_here"}

    with pytest.raises(base.PermanentError, match="chat not found") as caught:
        await adapter.publish(base.Draft("hi"), wrong)

    assert not isinstance(caught.value, base.CredentialsRejected)


async def test_a_bot_outside_the_chat_is_forbidden(
    adapter: TelegramAdapter, state: emulator.TelegramState, credentials: dict[str, Any]
) -> None:
    outsider = state.add_bot()

    with pytest.raises(base.PermanentError, match="not a member") as caught:
        await adapter.publish(
            base.Draft("hi"), {**credentials, "bot_token": outsider.token}
        )

    assert caught.value.code == "forbidden"


async def test_long_text_goes_out_in_several_messages_each_accepted(
    adapter: TelegramAdapter, state: emulator.TelegramState, credentials: dict[str, Any]
) -> None:
    plain = "\n".join(f"{i}. point (v1.{i}) - done!" for i in range(600))

    receipt = await adapter.publish(
        base.Draft(plain, {"parse_mode": "MarkdownV2"}), credentials
    )

    messages = stored(state, receipt, credentials)
    assert len(messages) == 1 + len(receipt.extra_ids) > 1
    assert "\n".join(message["text"] for message in messages) == plain


async def test_long_text_without_splitting_is_refused_before_sending(
    adapter: TelegramAdapter,
    recorder: Recorder,
    credentials: dict[str, Any],
) -> None:
    before = len(recorder.entries("telegram"))

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(base.Draft("x" * 5000, {"split": False}), credentials)

    assert caught.value.code == "telegram.text.too_long"
    assert len(recorder.entries("telegram")) == before


async def test_over_the_chat_rate_the_emulator_answers_429_as_telegram_does(
    adapter: TelegramAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    credentials: dict[str, Any],
) -> None:
    url = bot_url(base_url, credentials["bot_token"], "sendMessage")
    for number in range(20):
        response = await http.post(
            url, json={"chat_id": credentials["chat_id"], "text": f"{number}"}
        )
        assert response.json()["ok"] is True

    refused = await http.post(
        url, json={"chat_id": credentials["chat_id"], "text": "x"}
    )
    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("one more"), credentials)

    body = refused.json()
    seconds = body["parameters"]["retry_after"]
    assert refused.status_code == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {seconds}",
        "parameters": {"retry_after": seconds},
    }
    assert 1 <= seconds <= 60
    assert caught.value.code == "rate_limited"
    assert caught.value.retry_after is not None
    assert 1 <= caught.value.retry_after <= 60


async def test_a_forced_429_carries_its_retry_after(
    adapter: TelegramAdapter, state: emulator.TelegramState, credentials: dict[str, Any]
) -> None:
    state.fail_next(429, retry_after=7)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi"), credentials)

    assert caught.value.retry_after == 7


@pytest.mark.parametrize("status", [500, 502])
async def test_server_errors_are_transient(
    adapter: TelegramAdapter,
    state: emulator.TelegramState,
    credentials: dict[str, Any],
    status: int,
) -> None:
    state.fail_next(status)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi"), credentials)

    assert caught.value.code == "server_error"


async def test_a_refused_connection_is_transient_and_not_sent(
    closed_origin: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    adapter = TelegramAdapter(f"{closed_origin}/telegram", http, timeout=2.0)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi"), credentials)

    assert caught.value.sent is False


async def test_a_failure_after_the_first_message_is_permanent_and_partial(
    adapter: TelegramAdapter, state: emulator.TelegramState, credentials: dict[str, Any]
) -> None:
    state.fail_next(500, after=1)

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(base.Draft("a" * 4096 + "\nb"), credentials)

    assert caught.value.code == "partially_published"


async def test_one_photo_goes_with_its_caption(
    adapter: TelegramAdapter, state: emulator.TelegramState, credentials: dict[str, Any]
) -> None:
    draft = base.Draft("Shot (v1.0)!", {"parse_mode": "MarkdownV2"}, media=(photo(),))

    receipt = await adapter.publish(draft, credentials)

    (message,) = stored(state, receipt, credentials)
    assert message["caption"] == "Shot (v1.0)!"
    assert message["photo"][0]["width"] == 8


async def test_a_video_goes_through_send_video(
    adapter: TelegramAdapter,
    recorder: Recorder,
    state: emulator.TelegramState,
    credentials: dict[str, Any],
) -> None:
    clip = base.Media("video/mp4", b"\x00\x00\x00\x18ftypmp42", "clip.mp4")

    receipt = await adapter.publish(base.Draft("clip", media=(clip,)), credentials)

    (message,) = stored(state, receipt, credentials)
    assert message["video"]["mime_type"] == "video/mp4"
    assert recorder.entries("telegram")[-1]["path"] == "/bot***/sendVideo"


async def test_several_photos_form_an_album_captioned_on_the_first(
    adapter: TelegramAdapter,
    recorder: Recorder,
    state: emulator.TelegramState,
    credentials: dict[str, Any],
) -> None:
    draft = base.Draft("Album", media=(photo(), photo(), photo()))

    receipt = await adapter.publish(draft, credentials)

    messages = stored(state, receipt, credentials)
    assert len(messages) == 3
    assert len({message["media_group_id"] for message in messages}) == 1
    assert messages[0]["caption"] == "Album"
    assert all("caption" not in message for message in messages[1:])
    body = recorder.entries("telegram")[-1]["body"]
    assert [item["media"] for item in json.loads(body["media"])] == [
        "attach://file0",
        "attach://file1",
        "attach://file2",
    ]
    assert body["file0"]["content_type"] == "image/png"


async def test_more_than_ten_photos_go_out_as_several_albums(
    adapter: TelegramAdapter, state: emulator.TelegramState, credentials: dict[str, Any]
) -> None:
    receipt = await adapter.publish(base.Draft("", media=(photo(),) * 11), credentials)

    messages = stored(state, receipt, credentials)
    groups = [message["media_group_id"] for message in messages]
    assert len(messages) == 11
    assert [groups.count(group) for group in dict.fromkeys(groups)] == [6, 5]


@pytest.mark.parametrize(
    ("media", "description"),
    [
        ([], "Bad Request: there are no messages to send"),
        (
            [{"type": "photo", "media": "attach://f"}] * 11,
            "Bad Request: too many messages",
        ),
        (
            [{"type": "photo", "media": "attach://missing"}] * 2,
            "Bad Request: can't parse InputMedia: media not found",
        ),
        (
            [
                {"type": "document", "media": "attach://f"},
                {"type": "photo", "media": "attach://f"},
            ],
            "Bad Request: document can't be mixed with other media types",
        ),
        (
            [{"type": "photo", "media": "attach://f", "caption": "c" * 1025}] * 2,
            "Bad Request: message caption is too long",
        ),
    ],
)
async def test_the_emulator_refuses_bad_albums(
    base_url: str,
    http: httpx.AsyncClient,
    credentials: dict[str, Any],
    media: list[dict[str, Any]],
    description: str,
) -> None:
    image = photo()

    response = await http.post(
        bot_url(base_url, credentials["bot_token"], "sendMediaGroup"),
        data={"chat_id": str(credentials["chat_id"]), "media": json.dumps(media)},
        files={"f": ("p.png", image.data, "image/png")},
    )

    assert response.status_code == 400
    assert response.json()["description"].startswith(description)


async def test_the_emulator_refuses_photos_telegram_cannot_use(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    url = bot_url(base_url, credentials["bot_token"], "sendPhoto")
    chat = {"chat_id": str(credentials["chat_id"])}

    thin = await http.post(
        url, data=chat, files={"photo": ("t.png", photo(5, 200).data)}
    )
    broken = await http.post(
        url, data=chat, files={"photo": ("b.png", b"not an image")}
    )
    missing = await http.post(url, data=chat)

    assert thin.json()["description"] == "Bad Request: PHOTO_INVALID_DIMENSIONS"
    assert broken.json()["description"] == "Bad Request: IMAGE_PROCESS_FAILED"
    assert (
        missing.json()["description"] == "Bad Request: there is no photo in the request"
    )


async def test_the_sandbox_account_works_out_of_the_box(
    adapter: TelegramAdapter,
) -> None:
    credentials = adapter.check_credentials(emulator.SANDBOX_CREDENTIALS)

    receipt = await adapter.publish(base.Draft("sandbox"), credentials)

    assert receipt.url is not None
    assert receipt.url.startswith("https://t.me/syndic_sandbox/")


async def test_the_recorder_and_the_logs_never_hold_a_bot_token(
    adapter: TelegramAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    recorder: Recorder,
    credentials: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = credentials["bot_token"]
    caplog.set_level(logging.INFO, logger="syndic.platforms")

    await adapter.publish(base.Draft("hi", media=(photo(),)), credentials)
    await http.get(f"{base_url}/bot{token}/deep/path")
    await http.get(bot_url(base_url, "malformed" + token, "getMe"))

    recorded = json.dumps(recorder.entries())
    assert token not in recorded
    assert token.split(":")[1] not in recorded
    assert "/bot***/sendPhoto" in recorded
    assert "/bot***/deep/path" in recorded
    assert "platform_call" in [record.getMessage() for record in caplog.records]
    assert all(token not in str(record.__dict__) for record in caplog.records)
