"""Run poppler's pdfsig against a PDF with an NSS database trusting given CAs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

PDFSIG = shutil.which("pdfsig")
CERTUTIL = shutil.which("certutil")


def make_nss_database(folder: Path, ca_pem_files: list[Path]) -> Path:
    if not PDFSIG or not CERTUTIL:
        pytest.fail("pdfsig and certutil are required; run `make setup`")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [CERTUTIL, "-N", "-d", f"sql:{folder}", "--empty-password"],
        check=True,
        capture_output=True,
    )
    for index, pem in enumerate(ca_pem_files):
        subprocess.run(
            [CERTUTIL, "-A", "-d", f"sql:{folder}", "-n", f"ca{index}", "-t", "CT,C,C", "-i", str(pem)],
            check=True,
            capture_output=True,
        )
    return folder


def pdfsig_blocks(nss_folder: Path, pdf: bytes, work: Path) -> dict[str, str]:
    """Return pdfsig's report of each filled signature field, keyed by field name."""
    path = work / "checked.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        [PDFSIG, "-nssdir", f"sql:{nss_folder}", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    blocks = re.split(r"^Signature #\d+:\n", result.stdout, flags=re.MULTILINE)[1:]
    report = {}
    for block in blocks:
        name = re.search(r"Signature Field Name: (\S+)", block)
        assert name, block
        if "The signature form field is not signed." not in block:
            report[name.group(1)] = block
    return report


def assert_all_valid_and_trusted(blocks: dict[str, str], last_field: str) -> None:
    assert blocks, "pdfsig found no signature"
    for field, block in blocks.items():
        assert "Signature Validation: Signature is Valid." in block, (field, block)
        assert "Certificate Validation: Certificate is Trusted." in block, (field, block)
    assert "Total document signed" in blocks[last_field]
    assert "Not total document signed" not in blocks[last_field]
