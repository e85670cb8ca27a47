"""The PDS's checks of a createRecord body and of an `app.bsky.feed.post` record.

Messages follow the lexicon validator: `Input must have the property
"record"`, `Invalid app.bsky.feed.post record: Record/text must not be
longer than 300 graphemes`, and so on, each a 400 `InvalidRequest`. The
PDS checks shapes and limits, not meaning: facets pointing at the wrong
bytes are stored as sent (only clients then show them wrong), and a reply
may name a post it cannot see. Objects may carry properties the lexicon
does not name; unions are open.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from syndic.platforms.emulators import bluesky_richtext

POST = "app.bsky.feed.post"
IMAGES = "app.bsky.embed.images"
MAX_IMAGES = 4
MAX_LANGS = 3
MAX_TAGS = 8

NSID = re.compile(
    r"[a-zA-Z]([a-zA-Z0-9-]{0,62})?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})?)+"
    r"\.[a-zA-Z]([a-zA-Z0-9]{0,62})?"
)
RECORD_KEY = re.compile(r"[a-zA-Z0-9_~.:-]{1,512}")
DID = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]")
HANDLE = re.compile(
    r"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+"
    r"[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
)
DATETIME = re.compile(
    r"[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9]"
    r"(\.[0-9]{1,20})?(Z|[+-][0-2][0-9]:[0-5][0-9])"
)
AT_URI = re.compile(r"at://(did:[a-z]+:[a-zA-Z0-9._:%-]+|[a-zA-Z0-9.-]+)(/[^\s]*)?")
CID = re.compile(r"b[a-z2-7]{20,}")
URI = re.compile(r"[a-z][a-z0-9+.-]*:\S+", re.IGNORECASE)
LANGUAGE = re.compile(r"[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*|[ix](-[a-zA-Z0-9]{1,8})+")


class Invalid(Exception):
    """A 400 `InvalidRequest` with this message."""


def create_input(
    body: Mapping[str, Any],
) -> tuple[str, str, str | None, dict[str, Any]]:
    """Repo, collection, rkey and record of a createRecord body."""
    for name in ("repo", "collection", "record"):
        if name not in body:
            raise Invalid(f'Input must have the property "{name}"')
    repo, collection, rkey = body["repo"], body["collection"], body.get("rkey")
    if not isinstance(repo, str):
        raise Invalid("Input/repo must be a string")
    if not isinstance(collection, str) or NSID.fullmatch(collection) is None:
        raise Invalid("Input/collection must be a valid nsid")
    if rkey is not None:
        if not isinstance(rkey, str) or len(rkey) > 512:
            raise Invalid("Input/rkey must not be longer than 512 characters")
        if RECORD_KEY.fullmatch(rkey) is None or rkey in (".", ".."):
            raise Invalid("record key syntax not valid (regex)")
    record = body["record"]
    if not isinstance(record, dict):
        raise Invalid("Input/record must be an object")
    record_type = record.setdefault("$type", collection)
    if record_type != collection:
        raise Invalid(f"Invalid $type: expected {collection}, got {record_type}")
    return repo, collection, rkey, record


def check_post(record: Mapping[str, Any]) -> None:
    """Raise `Invalid` with the lexicon's message if the post record is refused."""
    try:
        _post(record)
    except Invalid as exc:
        raise Invalid(f"Invalid {POST} record: {exc}") from exc


def blob_refs(record: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The (path, blob) pairs of an images embed, for the blob checks."""
    embed = record.get("embed")
    if not isinstance(embed, dict) or embed.get("$type") != IMAGES:
        return []
    return [
        (f"Record/embed/images/{index}/image", image["image"])
        for index, image in enumerate(embed.get("images") or [])
        if isinstance(image, dict) and isinstance(image.get("image"), dict)
    ]


def _post(record: Mapping[str, Any]) -> None:
    text = _required(record, "Record", "text")
    _string(text, "Record/text", length=bluesky_richtext.MAX_BYTES)
    _string(text, "Record/text", graphemes=bluesky_richtext.MAX_GRAPHEMES)
    created = _required(record, "Record", "createdAt")
    if not isinstance(created, str) or DATETIME.fullmatch(created) is None:
        raise Invalid(
            "Record/createdAt must be an valid atproto datetime "
            "(both RFC-3339 and ISO-8601)"
        )
    if record.get("facets") is not None:
        _facets(record["facets"])
    if record.get("reply") is not None:
        reply = _object(record["reply"], "Record/reply")
        for part in ("root", "parent"):
            _strong_ref(_required(reply, "Record/reply", part), f"Record/reply/{part}")
    if record.get("embed") is not None:
        _embed(record["embed"])
    if record.get("langs") is not None:
        langs = _array(record["langs"], "Record/langs", MAX_LANGS)
        for index, lang in enumerate(langs):
            if not isinstance(lang, str) or LANGUAGE.fullmatch(lang) is None:
                raise Invalid(
                    f"Record/langs/{index} must be a well-formed BCP 47 language tag"
                )
    if record.get("tags") is not None:
        tags = _array(record["tags"], "Record/tags", MAX_TAGS)
        for index, tag in enumerate(tags):
            path = f"Record/tags/{index}"
            _string(tag, path, length=bluesky_richtext.MAX_TAG_BYTES)
            _string(tag, path, graphemes=bluesky_richtext.MAX_TAG_GRAPHEMES)


def _facets(facets: Any) -> None:
    for number, facet in enumerate(_array(facets, "Record/facets")):
        path = f"Record/facets/{number}"
        facet = _object(facet, path)
        index = _object(_required(facet, path, "index"), f"{path}/index")
        for bound in ("byteStart", "byteEnd"):
            value = _required(index, f"{path}/index", bound)
            if not isinstance(value, int) or isinstance(value, bool):
                raise Invalid(f"{path}/index/{bound} must be an integer")
            if value < 0:
                raise Invalid(f"{path}/index/{bound} can not be less than 0")
        features = _array(_required(facet, path, "features"), f"{path}/features")
        for position, feature in enumerate(features):
            _feature(feature, f"{path}/features/{position}")


def _feature(feature: Any, path: str) -> None:
    feature = _object(feature, path)
    kind = feature.get("$type")
    if not isinstance(kind, str):
        raise Invalid(f'{path} must be an object which includes the "$type" property')
    if kind == bluesky_richtext.LINK:
        uri = _required(feature, path, "uri")
        if not isinstance(uri, str) or URI.fullmatch(uri) is None:
            raise Invalid(f"{path}/uri must be a uri")
    elif kind == bluesky_richtext.MENTION:
        did = _required(feature, path, "did")
        if not isinstance(did, str) or DID.fullmatch(did) is None:
            raise Invalid(f"{path}/did must be a valid did")
    elif kind == bluesky_richtext.TAG:
        tag = _required(feature, path, "tag")
        _string(tag, f"{path}/tag", length=bluesky_richtext.MAX_TAG_BYTES)
        _string(tag, f"{path}/tag", graphemes=bluesky_richtext.MAX_TAG_GRAPHEMES)


def _embed(embed: Any) -> None:
    embed = _object(embed, "Record/embed")
    kind = embed.get("$type")
    if not isinstance(kind, str):
        raise Invalid(
            'Record/embed must be an object which includes the "$type" property'
        )
    if kind != IMAGES:
        return
    images = _array(
        _required(embed, "Record/embed", "images"), "Record/embed/images", MAX_IMAGES
    )
    for index, image in enumerate(images):
        path = f"Record/embed/images/{index}"
        image = _object(image, path)
        blob = _object(_required(image, path, "image"), f"{path}/image")
        if blob.get("$type") != "blob" or not isinstance(blob.get("ref"), dict):
            raise Invalid(f"{path}/image should be a blob ref")
        alt = _required(image, path, "alt")
        if not isinstance(alt, str):
            raise Invalid(f"{path}/alt must be a string")
        ratio = image.get("aspectRatio")
        if ratio is not None:
            ratio = _object(ratio, f"{path}/aspectRatio")
            for side in ("width", "height"):
                value = _required(ratio, f"{path}/aspectRatio", side)
                if not isinstance(value, int) or value < 1:
                    raise Invalid(f"{path}/aspectRatio/{side} can not be less than 1")


def _strong_ref(value: Any, path: str) -> None:
    ref = _object(value, path)
    uri, cid = _required(ref, path, "uri"), _required(ref, path, "cid")
    if not isinstance(uri, str) or AT_URI.fullmatch(uri) is None:
        raise Invalid(f"{path}/uri must be a valid at-uri")
    if not isinstance(cid, str) or CID.fullmatch(cid) is None:
        raise Invalid(f"{path}/cid must be a cid string")


def _required(container: Mapping[str, Any], path: str, name: str) -> Any:
    if name not in container:
        raise Invalid(f'{path} must have the property "{name}"')
    return container[name]


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{path} must be an object")
    return value


def _array(value: Any, path: str, most: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise Invalid(f"{path} must be an array")
    if most is not None and len(value) > most:
        raise Invalid(f"{path} must not have more than {most} elements")
    return value


def _string(
    value: Any, path: str, *, length: int | None = None, graphemes: int | None = None
) -> None:
    if not isinstance(value, str):
        raise Invalid(f"{path} must be a string")
    if length is not None and bluesky_richtext.utf8_length(value) > length:
        raise Invalid(f"{path} must not be longer than {length} characters")
    if graphemes is not None and bluesky_richtext.graphemes(value) > graphemes:
        raise Invalid(f"{path} must not be longer than {graphemes} graphemes")
