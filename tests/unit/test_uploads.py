"""What an upload may declare and what its filename becomes (imgpipe.uploads): the types real clients
send get an upload URL, declared non-images do not; names keep their letters in any script and lose
everything that could confuse a URL, a path or a reader."""

from __future__ import annotations

import unicodedata

import pytest

from functions.api.logic import Api, BadRequest
from functions.api.upload_url import issue_upload_url
from imgpipe import config
from imgpipe.uploads import (
    MAX_FILENAME_BYTES,
    UploadRefused,
    guess_content_type,
    normalise_content_type,
    safe_filename,
    upload_content_type,
)
from tests.fakes import FakeImages


class RecordingPresigner:
    def __init__(self) -> None:
        self.signed: list[tuple[str, str]] = []

    def presign_put(self, bucket, key, content_type, content_length, expires_in):
        self.signed.append((key, content_type))
        return f"https://{bucket}.s3/{key}"

    def presign_get(self, bucket, key, expires_in):
        return f"https://{bucket}.s3/{key}"


@pytest.fixture
def api() -> Api:
    return Api(config.PipelineSettings(), "in", "out", FakeImages(), RecordingPresigner())


# ---- content types --------------------------------------------------------------------------------
# What browsers, SDKs and Python's mimetypes send for images, and the type the URL then signs.
REAL_CLIENTS = {
    "": "application/octet-stream",  # File.type of an extension the browser does not know
    "application/octet-stream": "application/octet-stream",
    "binary/octet-stream": "application/octet-stream",
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "IMAGE/JPEG": "image/jpeg",
    "image/jpeg; charset=binary": "image/jpeg",
    " image/png ": "image/png",
    "image/apng": "image/apng",
    "image/x-icon": "image/x-icon",  # accepted here; the sniffed bytes decide (UNSUPPORTED_FORMAT)
    "image/vnd.microsoft.icon": "image/vnd.microsoft.icon",
    "image/heic": "image/heic",
    "image/avif": "image/avif",
    "image/jxl": "image/jxl",
    "image/x-ms-bmp": "image/bmp",
}


@pytest.mark.parametrize(("declared", "signed"), REAL_CLIENTS.items())
def test_every_type_real_clients_declare_for_images_gets_an_upload_url_signed_for_its_normal_form(
    api: Api, declared: str, signed: str
):
    upload = issue_upload_url(api, "photo.jpg", declared, "10", owner=config.SHARED_OWNER)
    assert upload["headers"]["Content-Type"] == signed
    assert api.presigner.signed == [(upload["key"], signed)]
    assert api.images.records[upload["imageId"]]["upload"]["declaredType"] == signed


def test_no_declared_type_at_all_is_octet_stream():
    assert normalise_content_type(None) == "application/octet-stream"
    assert upload_content_type(None) == "application/octet-stream"


@pytest.mark.parametrize(
    "declared",
    [
        "text/plain",
        "text/html",
        "application/pdf",
        "application/javascript",
        "text/javascript",
        "application/xhtml+xml",
        "image/svg+xml",  # a document that can hold scripts, not a picture
        "video/mp4",
        "image/",
        "jpeg",
        "image/jpeg\r\nx-amz-acl: public-read",  # a header smuggled into the signed one
        "image/" + "x" * 100,
    ],
)
def test_a_declared_non_image_is_refused_up_front(api: Api, declared: str):
    with pytest.raises(BadRequest) as raised:
        issue_upload_url(api, "photo.jpg", declared, "10", owner=config.SHARED_OWNER)
    assert raised.value.code == "UNSUPPORTED_CONTENT_TYPE"
    assert api.images.records == {}


@pytest.mark.parametrize(
    ("filename", "declared"),
    [
        ("photo.jpg", "image/jpeg"),
        ("photo.JPEG", "image/jpeg"),
        ("scan.jfif", "image/jpeg"),
        ("anim.apng", "image/apng"),
        ("seq.avifs", "image/avif"),  # as the desktop MIME database names it; Python's table has none
        ("still.avif", "image/avif"),
        ("iphone.HEIC", "image/heic"),
        ("photo.webp", "image/webp"),
        ("next.jxl", "image/jxl"),
        ("fax.tiff", "image/tiff"),
        ("favicon.ico", "image/x-icon"),
        ("stereo.mpo", "application/octet-stream"),  # no browser knows .mpo: the bytes decide
        ("no-extension", "application/octet-stream"),
        ("notes.txt", "text/plain"),
    ],
)
def test_the_client_declares_what_a_browser_would(filename: str, declared: str):
    assert guess_content_type(filename) == declared


# ---- filenames ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("猫の写真.jpg", "猫の写真.jpg"),
        ("صورة قطة.jpg", "صورة_قطة.jpg"),  # Arabic, right to left
        ("תמונה של חתול.png", "תמונה_של_חתול.png"),  # Hebrew
        ("हिन्दी फ़ोटो.jpg", "हिन्दी_फ़ोटो.jpg"),  # Devanagari: vowel signs are combining marks
        ("Ελληνικά.webp", "Ελληνικά.webp"),
        ("Фото 2024.png", "Фото_2024.png"),
        ("🐱 cat.png", "cat.png"),  # emoji are symbols: collapsed, then trimmed
        ("🐱🐶.png", "image.png"),  # nothing but the extension: a stem that says what it is
        ("👨\u200d👩\u200d👧 family.webp", "family.webp"),  # joiners between emoji go with them
        ("My Photo (1).jpg", "My_Photo_1_.jpg"),
        ("../../etc/passwd.png", "passwd.png"),
        ("C:\\Users\\me\\pic ü.png", "pic_ü.png"),
        (".hidden.jpg", "hidden.jpg"),
        ("..jpg", "image.jpg"),
        ("photo.jpg.", "photo.jpg"),
        ("a\x00b\nc\x7f.jpg", "a_b_c_.jpg"),  # controls
        ("invoice\u202egpj.exe", "invoice_gpj.exe"),  # a right-to-left override cannot disguise the name
        ("a\u2066b\u2069c.jpg", "a_b_c.jpg"),  # bidi isolates
        ("zero\u200bwidth\u2060joiner\ufeff.jpg", "zero_width_joiner_.jpg"),
        ("100%+sure&?#.jpg", "100_sure_.jpg"),  # URL-special characters
        ("\u0301\u0301x.jpg", "x.jpg"),  # combining marks with no letter to sit on
    ],
)
def test_a_filename_keeps_letters_and_digits_of_any_script(given: str, kept: str):
    assert safe_filename(given) == kept


def test_a_filename_is_nfc_normalised():
    decomposed = unicodedata.normalize("NFD", "été.jpg")
    assert decomposed != "été.jpg"
    assert safe_filename(decomposed) == unicodedata.normalize("NFC", "été.jpg")


def test_a_long_name_is_cut_to_its_byte_limit_between_characters_and_keeps_its_extension():
    name = "写真" * 90 + ".jpeg"  # 180 characters, 540 bytes
    kept = safe_filename(name)
    assert kept.endswith(".jpeg")
    assert len(kept.encode()) <= MAX_FILENAME_BYTES
    assert ("写真" * 90).startswith(kept.removesuffix(".jpeg"))
    marks = "क\u093f" * 60 + ".png"  # a consonant and its vowel sign, never split apart
    cut = safe_filename(marks)
    assert unicodedata.category(cut[-5]) == "Mc"


@pytest.mark.parametrize("given", ["", None, "///", "..", "🐱🐶", "\u202e\u200b"])
def test_a_name_without_letters_or_digits_is_refused(given):
    with pytest.raises(UploadRefused) as raised:
        safe_filename(given)
    assert raised.value.code == "INVALID_FILENAME"


@pytest.mark.parametrize("given", ["猫の写真.jpg", "صورة قطة.jpg", "🐱 cat.png", "a\u202eb.jpg", "x" * 200])
def test_every_kept_name_is_one_safe_key_segment(given: str):
    kept = safe_filename(given)
    assert "/" not in kept and ".." not in kept and not kept.startswith(".")
    assert all(unicodedata.category(c)[0] in "LNM" or c in "._-" for c in kept)


def test_the_key_and_the_record_keep_the_unicode_name(api: Api):
    upload = issue_upload_url(api, "猫の写真.jpg", "image/jpeg", "10", owner=config.SHARED_OWNER)
    assert upload["key"] == f"{config.UPLOAD_PREFIX}{upload['imageId']}/猫の写真.jpg"
    assert api.images.records[upload["imageId"]]["upload"]["filename"] == "猫の写真.jpg"
