"""The printable copy: rendered, QR decoded, hashes and marks checked."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURES
from PIL import Image, ImageStat
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.writer import PdfFileWriter

from sigrekap import db, keys, printing
from sigrekap.models import Recap
from sigrekap.verify import verify_pdf

TOOLS = ("pdftoppm", "pdftotext", "pdfinfo", "zbarimg")
needs_tools = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in TOOLS),
    reason="poppler-utils and zbar-tools are needed",
)


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def _page_count(path: Path) -> int:
    for line in _run("pdfinfo", str(path)).splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    raise AssertionError("pdfinfo printed no page count")


def _page_text(path: Path, page: int) -> str:
    return _run("pdftotext", "-f", str(page), "-l", str(page), str(path), "-")


def _decode_qr(path: Path, page: int, tmp_path: Path, *options: str) -> str:
    prefix = tmp_path / f"qr-{path.stem}-{page}"
    _run(
        "pdftoppm",
        "-r",
        "200",
        "-png",
        "-singlefile",
        *options,
        "-f",
        str(page),
        "-l",
        str(page),
        str(path),
        str(prefix),
    )
    result = subprocess.run(
        ["zbarimg", "--raw", "-q", f"{prefix}.png"],
        check=False,  # exit status 4 means no code was found
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


@needs_tools
@pytest.mark.skipif(
    not (FIXTURES / "lapor-2026-11.csv").exists(), reason="sample exports not found"
)
def test_printed_copy_of_signed_recap(app, office_pki, client, auth, tmp_path):
    from test_workflow import Chain

    with app.app_context():
        chain = Chain(app, office_pki)
        chain.submit()
        for username in ("kasi", "kabid", "kadis"):
            chain.approve(username)
        chain.archive()
        recap_id = chain.recap.id
        code = chain.recap.verification_code
        revision = chain.recap.current_revision
        store = chain.settings.store
        signed = store.get(revision.sha256)
        workbook_sha256 = revision.workbook_sha256
        names = [chain.users[u].name for u in ("kasi", "kabid", "kadis")]
    original = tmp_path / "signed.pdf"
    original.write_bytes(signed)
    original_pages = _page_count(original)

    auth.login("kasi")
    response = client.get(f"/arsip/{recap_id}/cetak.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    copy = tmp_path / "copy.pdf"
    copy.write_bytes(response.data)

    # The signed pages plus one verification sheet, all rendered by poppler.
    pages = _page_count(copy)
    assert pages == original_pages + 1
    _run("pdftoppm", "-r", "20", "-png", str(copy), str(tmp_path / "page"))
    assert len(list(tmp_path.glob("page-*.png"))) == pages

    verification_url = f"{app.config['PUBLIC_BASE_URL']}/verifikasi/{code}"
    assert _decode_qr(copy, pages, tmp_path) == verification_url

    sheet = _page_text(copy, pages)
    assert hashlib.sha256(signed).hexdigest() == revision.sha256
    assert revision.sha256 in sheet
    assert workbook_sha256 in sheet
    assert hashlib.sha256(store.get(workbook_sha256)).hexdigest() == workbook_sha256
    assert code in sheet
    for name in names:
        assert name.split(",")[0] in sheet, name
    assert "Sah" in sheet
    assert "WIB" in sheet

    mark = printing.mark_text(code)
    for page in range(1, pages + 1):
        assert mark in _page_text(copy, page), f"page {page} lacks the mark"

    # The stamps are part of the page content now: with annotations hidden,
    # the Kadis stamp's QR code still shows on the copy but not on the original.
    assert _decode_qr(copy, original_pages, tmp_path, "-hide-annotations") == (
        verification_url
    )
    assert _decode_qr(original, original_pages, tmp_path, "-hide-annotations") == ""

    # A paper copy is no signed document, and the original is untouched.
    assert b"/AcroForm" not in response.data
    with app.app_context():
        roots = keys.trust_roots(Path(app.config["CERTS_DIR"]))
        assert verify_pdf(response.data, roots).status == "unverifiable"
        stored = db.session().get(Recap, recap_id).current_revision
        assert stored.sha256 == revision.sha256
    assert hashlib.sha256(store.path_for(revision.sha256).read_bytes()).hexdigest() == (
        revision.sha256
    )


def _annotation(rect, flags, matrix=None):
    # A form that fills the lower-left 50 x 50 square of its 50 x 100 BBox.
    appearance = generic.StreamObject(
        {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Form"),
            pdf_name("/BBox"): generic.ArrayObject(
                generic.NumberObject(n) for n in (0, 0, 50, 100)
            ),
            pdf_name("/Resources"): generic.DictionaryObject(),
        },
        stream_data=b"0 g 0 0 50 50 re f",
    )
    if matrix is not None:
        appearance[pdf_name("/Matrix")] = generic.ArrayObject(
            generic.NumberObject(n) for n in matrix
        )
    return {
        pdf_name("/Type"): pdf_name("/Annot"),
        pdf_name("/Subtype"): pdf_name("/Widget"),
        pdf_name("/Rect"): generic.ArrayObject(generic.NumberObject(n) for n in rect),
        pdf_name("/F"): generic.NumberObject(flags),
        pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): appearance}),
    }


def _pdf_with_annotations() -> bytes:
    writer = PdfFileWriter()
    annotations = generic.ArrayObject()
    for rect, flags, matrix in (
        # Turned 90 degrees: the filled square becomes the right half of Rect.
        ((100, 100, 200, 150), 4, (0, 1, -1, 0, 0, 0)),
        ((100, 300, 150, 400), 4 | 2, None),  # hidden
        ((300, 300, 350, 400), 0, None),  # not printed
    ):
        annotation = generic.DictionaryObject(_annotation(rect, flags, matrix))
        for key, value in list(annotation.items()):
            if isinstance(value, generic.StreamObject):
                annotation[key] = writer.add_object(value)
        appearance = annotation["/AP"]
        appearance[pdf_name("/N")] = writer.add_object(appearance["/N"])
        annotations.append(writer.add_object(annotation))
    page = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Page"),
            pdf_name("/MediaBox"): generic.ArrayObject(
                generic.NumberObject(n) for n in (0, 0, 400, 500)
            ),
            pdf_name("/Resources"): generic.DictionaryObject(),
            pdf_name("/Contents"): writer.add_object(
                generic.StreamObject(stream_data=b"")
            ),
            pdf_name("/Annots"): annotations,
        }
    )
    writer.insert_page(page)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def _sheet() -> printing.VerificationSheet:
    return printing.VerificationSheet(
        office_name="Dinas Uji",
        number="001/UJI/2026",
        period_label="Oktober 2026",
        verification_code="UJI1234567",
        verification_url="http://127.0.0.1:5000/verifikasi/UJI1234567",
        pdf_sha256="a" * 64,
        workbook_sha256=None,
        status="unverifiable",
        signatures=(),
        printed_at=dt.datetime(2026, 11, 2, 3, 4, 5, tzinfo=dt.UTC),
    )


@needs_tools
def test_appearances_follow_matrix_and_flags(tmp_path):
    source = _pdf_with_annotations()
    copy = tmp_path / "copy.pdf"
    copy.write_bytes(printing.build_printed_copy(source, _sheet()))
    prefix = tmp_path / "annotations"
    # At 72 dpi one pixel is one point, and image rows run from the top.
    _run(
        "pdftoppm",
        "-r",
        "72",
        "-gray",
        "-png",
        "-singlefile",
        "-hide-annotations",
        "-f",
        "1",
        "-l",
        "1",
        str(copy),
        str(prefix),
    )
    image = Image.open(f"{prefix}.png").convert("L")
    assert image.size == (400, 500)

    def shade(x0, y0, x1, y1):
        return ImageStat.Stat(image.crop((x0, 500 - y1, x1, 500 - y0))).mean[0]

    assert shade(155, 105, 195, 145) < 40  # right half of the turned widget
    assert shade(105, 105, 145, 145) > 215  # left half stays blank
    assert shade(105, 305, 145, 395) > 215  # hidden widget
    assert shade(305, 305, 345, 395) > 215  # widget that is not printed
    assert printing.mark_text("UJI1234567") in _page_text(copy, 1)
    assert _page_count(copy) == 2
