"""Time sigrekap.verify.verify_pdf beside bare pyHanko validation and pdfsig.

Run from the repository root:

    .venv/bin/python bench/bench_verify.py [--repeat 15] [--profile]

The script builds a scratch installation in a temporary folder (office PKI,
demo users and keys) and runs ``flask demo-chain`` once, which writes a
recap sealed by the office and signed by the Kasi, the Kabid and the Kadis.
Three variants then check that one file, interleaved, with the order
rotating every round:

* ``verify_pdf``: :func:`sigrekap.verify.verify_pdf`, the verdict that the
  verification page and ``flask verify`` show.
* ``bare``: pyHanko alone: parse the file, build one ValidationContext with
  the same trust roots and settings (no fetching, no CRLs), and call
  ``validate_pdf_signature`` with the same key usage constraints and the
  change analysis on, for every embedded signature.
* ``pdfsig``: poppler's ``pdfsig`` with an NSS database trusting the office
  CA, as a separate process (so it includes process start-up).

It prints min/median/max per variant in milliseconds and the ratio of the
medians of ``verify_pdf`` to ``bare``. ``--profile`` adds a cProfile
listing of a few ``verify_pdf`` calls.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.metadata
import io
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script from the repository root: make the package importable.
sys.path.insert(0, str(ROOT))

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import (
    KeyUsageConstraints,
    validate_pdf_signature,
)
from pyhanko_certvalidator import ValidationContext

from sigrekap import keys
from sigrekap.pki import to_asn1_certificate
from sigrekap.verify import verify_pdf

PERIOD = "2026-11"
TARGET_RATIO = 1.3
# Same constraints as sigrekap.verify uses for signer certificates.
KEY_USAGE = KeyUsageConstraints(
    key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
)


def run_flask(scratch: Path, *args: str) -> None:
    """Run one ``flask --app wsgi`` command against the scratch instance."""
    env = {
        **os.environ,
        "SIGREKAP_INSTANCE": str(scratch / "instance"),
        "SIGREKAP_CERTS_DIR": str(scratch / "certs"),
    }
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


def make_recap(scratch: Path, lapor: Path | None) -> Path:
    """Run init-demo and demo-chain, and return the path of the signed recap."""
    if lapor is None:
        from bench_paraf import lapor_export

        lapor = scratch / "lapor.csv"
        lapor.write_bytes(lapor_export())
    run_flask(scratch, "init-demo")
    out = scratch / "out"
    run_flask(
        scratch,
        "demo-chain",
        "--lapor",
        str(lapor),
        "--period",
        PERIOD,
        "--out",
        str(out),
    )
    return out / "recap-signed.pdf"


def bare_pyhanko(data: bytes, roots: list) -> int:
    """Validate every signature with pyHanko alone and count those that pass."""
    reader = PdfFileReader(io.BytesIO(data))
    context = ValidationContext(
        trust_roots=[to_asn1_certificate(cert) for cert in roots],
        allow_fetching=False,
    )
    passed = 0
    for embedded in reader.embedded_signatures:
        status = validate_pdf_signature(
            embedded,
            signer_validation_context=context,
            key_usage_settings=KEY_USAGE,
            skip_diff=False,
        )
        passed += bool(status.bottom_line)
    return passed


def make_nss_database(folder: Path, ca_files: list[Path]) -> Path | None:
    certutil = shutil.which("certutil")
    if not certutil or not shutil.which("pdfsig"):
        return None
    folder.mkdir()
    subprocess.run(
        [certutil, "-N", "-d", f"sql:{folder}", "--empty-password"],
        check=True,
        capture_output=True,
    )
    for index, pem in enumerate(ca_files):
        subprocess.run(
            [
                certutil,
                "-A",
                "-d",
                f"sql:{folder}",
                "-n",
                f"ca{index}",
                "-t",
                "CT,C,C",
                "-i",
                str(pem),
            ],
            check=True,
            capture_output=True,
        )
    return folder


def run_pdfsig(nss: Path, pdf: Path) -> str:
    result = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{nss}", str(pdf)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout


def time_interleaved(
    variants: dict[str, Callable[[], object]], repeat: int, warmup: int
) -> dict[str, list[float]]:
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeat):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            variants[name]()
            samples[name].append((time.perf_counter() - start) * 1000)
    return samples


def describe_machine() -> str:
    versions = ", ".join(
        f"{package} {importlib.metadata.version(package)}"
        for package in ("pyHanko", "pyhanko-certvalidator", "cryptography")
    )
    pdfsig = (
        subprocess.run(
            ["pdfsig", "-v"], check=False, capture_output=True, text=True
        ).stderr.splitlines()[:1]
        if shutil.which("pdfsig")
        else ["pdfsig missing"]
    )
    return (
        f"{os.cpu_count()} CPUs, {platform.platform()}, Python "
        f"{platform.python_version()}, {versions}, {' '.join(pdfsig)}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds")
    parser.add_argument(
        "--lapor",
        type=Path,
        help="LAPOR! export for demo-chain (default: a generated 40-row CSV)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile listing too"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sigrekap-bench-verify-") as folder:
        scratch = Path(folder)
        print("Building the signed recap with flask demo-chain...", flush=True)
        pdf_path = make_recap(scratch, args.lapor)
        data = pdf_path.read_bytes()
        certs = sorted((scratch / "certs").glob("*.pem"))
        roots = keys.trust_roots(scratch / "certs")

        report = verify_pdf(data, roots)
        passed = bare_pyhanko(data, roots)
        print(
            f"File: {len(data)} bytes, {len(report.signatures)} signatures; "
            f"verify_pdf says {report.status}, bare pyHanko passes {passed}."
        )
        if report.status != "valid" or passed != len(report.signatures):
            print(report.summary())
            return 1

        variants: dict[str, Callable[[], object]] = {
            "verify_pdf": lambda: verify_pdf(data, roots),
            "bare": lambda: bare_pyhanko(data, roots),
        }
        nss = make_nss_database(scratch / "nss", certs)
        if nss is None:
            print("pdfsig or certutil not found; the pdfsig variant is skipped.")
        else:
            output = run_pdfsig(nss, pdf_path)
            valid = output.count("Signature is Valid.")
            print(f"pdfsig reports {valid} valid signatures.")
            variants["pdfsig"] = lambda: run_pdfsig(nss, pdf_path)

        samples = time_interleaved(variants, args.repeat, args.warmup)
        print()
        print(f"Machine: {describe_machine()}")
        print(f"{args.repeat} timed rounds after {args.warmup} warm-up rounds (ms):")
        print(f"{'variant':<12}{'min':>9}{'median':>9}{'max':>9}")
        medians = {}
        for name, values in samples.items():
            medians[name] = statistics.median(values)
            print(
                f"{name:<12}{min(values):>9.1f}{medians[name]:>9.1f}{max(values):>9.1f}"
            )
        ratio = medians["verify_pdf"] / medians["bare"]
        verdict = "within" if ratio <= TARGET_RATIO else "over"
        print(f"verify_pdf / bare: {ratio:.2f}x ({verdict} the {TARGET_RATIO}x target)")

        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(5):
                verify_pdf(data, roots)
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
