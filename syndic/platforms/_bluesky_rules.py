"""What Bluesky refuses in a draft, found before any call.

A post takes 300 graphemes and 3000 UTF-8 bytes (each located in the text
when broken), up to 4 images, up to 3 language tags and 8 extra hashtags
of 64 graphemes. Over a text limit, the `split` option makes a thread.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Mapping
from typing import Any

import grapheme
from PIL import Image

from syndic.platforms import base
from syndic.platforms.emulators import bluesky_richtext as richtext

MAX_IMAGES = 4
MAX_LANGS = 3
MAX_TAGS = 8
LANGUAGE = re.compile(r"[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*")


class Refused(Exception):
    """A problem that leaves nothing to post."""

    def __init__(self, problem: base.Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def posts(draft: base.Draft) -> list[str]:
    """The texts to post in order; raises `Refused` for an empty draft."""
    if not draft.text.strip():
        if draft.media:
            return [""]
        raise Refused(
            base.Problem("bluesky.text.empty", "Bluesky refuses an empty post")
        )
    fits = richtext.index_past(draft.text) is None
    if fits or not draft.options.get("split", False):
        return [draft.text]
    try:
        return richtext.split(draft.text)
    except ValueError as exc:
        raise Refused(
            base.Problem("bluesky.text.unsplittable", f"Bluesky cannot take it: {exc}")
        ) from exc


def limit_problems(text: str) -> list[base.Problem]:
    """The 300-grapheme and 3000-byte limits of one post, each located."""
    problems = []
    count = richtext.graphemes(text)
    if count > richtext.MAX_GRAPHEMES:
        start = len(grapheme.slice(text, 0, richtext.MAX_GRAPHEMES))
        problems.append(
            base.Problem(
                "bluesky.text.too_many_graphemes",
                f"{count} graphemes; Bluesky takes {richtext.MAX_GRAPHEMES} "
                "(set the split option to post a thread)",
                start=start,
                end=len(text),
            )
        )
    size = richtext.utf8_length(text)
    if size > richtext.MAX_BYTES:
        start = 0
        total = 0
        for cluster in grapheme.graphemes(text):
            total += richtext.utf8_length(cluster)
            if total > richtext.MAX_BYTES:
                break
            start += len(cluster)
        problems.append(
            base.Problem(
                "bluesky.text.too_many_bytes",
                f"{size} UTF-8 bytes; Bluesky takes {richtext.MAX_BYTES}",
                start=start,
                end=len(text),
            )
        )
    return problems


def option_problems(options: Mapping[str, Any]) -> list[base.Problem]:
    problems = []
    if not isinstance(options.get("split", False), bool):
        problems.append(
            base.Problem("bluesky.options.split", "split must be true or false")
        )
    langs = options.get("langs") or []
    if (
        not isinstance(langs, list | tuple)
        or len(langs) > MAX_LANGS
        or not all(isinstance(lang, str) and LANGUAGE.fullmatch(lang) for lang in langs)
    ):
        problems.append(
            base.Problem(
                "bluesky.options.langs",
                f"langs must be up to {MAX_LANGS} language tags such as en or pt-BR",
            )
        )
    tags = options.get("tags") or []
    if (
        not isinstance(tags, list | tuple)
        or len(tags) > MAX_TAGS
        or not all(isinstance(tag, str) and richtext.tag_fits(tag) for tag in tags)
    ):
        problems.append(
            base.Problem(
                "bluesky.options.tags",
                f"tags must be up to {MAX_TAGS} texts of at most "
                f"{richtext.MAX_TAG_GRAPHEMES} graphemes",
            )
        )
    return problems


def media_problems(media: tuple[base.Media, ...]) -> list[base.Problem]:
    problems = []
    if len(media) > MAX_IMAGES:
        problems.append(
            base.Problem(
                "bluesky.media.too_many",
                f"{len(media)} images; Bluesky takes {MAX_IMAGES} a post",
            )
        )
    for item in media:
        if not item.is_image:
            problems.append(
                base.Problem(
                    "bluesky.media.unsupported",
                    f"{item.filename}: syndic sends images to Bluesky, "
                    f"not {item.content_type}",
                )
            )
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(item.data)) as image:
                    image.verify()
        except (OSError, ValueError, Image.DecompressionBombError):
            problems.append(
                base.Problem(
                    "bluesky.media.unreadable",
                    f"{item.filename} is not a readable image",
                )
            )
    return problems
