"""TOTP: RFC 6238 vectors, drift, malformed codes, the Key URI and its QR code."""

import base64
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
import segno

from portico.auth import totp

ROOT = Path(__file__).resolve().parents[2]
SVG_NS = "http://www.w3.org/2000/svg"

# RFC 6238 Appendix B: the SHA1 rows, key = ASCII "12345678901234567890", 8-digit codes.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
OTHER_SECRET = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"
NOW = 1_790_000_015.0  # mid-step, a fixed moment
STEP = int(NOW // 30)


def code_at(step: int, secret: str = SECRET) -> str:
    return pyotp.HOTP(secret).at(step)


@pytest.mark.parametrize(("moment", "rfc_code"), RFC_SHA1)
def test_rfc6238_sha1_vectors(moment, rfc_code):
    assert pyotp.HOTP(RFC_SECRET, digits=8).at(moment // 30) == rfc_code  # the key is the RFC's key
    six = f"{int(rfc_code) % 10**6:06d}"
    assert pyotp.HOTP(RFC_SECRET, digits=6).at(moment // 30) == six
    assert totp.match_step(RFC_SECRET, six, float(moment), drift=0) == moment // 30
    assert totp.match_step(RFC_SECRET, six, float(moment)) == moment // 30


def test_new_secret_is_160_random_bits_in_unpadded_base32():
    made = {totp.new_secret() for _ in range(200)}
    assert len(made) == 200
    for secret in made:
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)
        assert len(base64.b32decode(secret)) == 20


def test_one_step_of_drift_either_way_is_accepted_two_are_not():
    codes = {offset: code_at(STEP + offset) for offset in range(-2, 3)}
    # Preconditions, so that no case below passes by a coincidental code collision.
    assert len(set(codes.values())) == 5
    assert totp.match_step(SECRET, codes[0], NOW) == STEP
    assert totp.match_step(SECRET, codes[-1], NOW) == STEP - 1
    assert totp.match_step(SECRET, codes[1], NOW) == STEP + 1
    assert totp.match_step(SECRET, codes[-2], NOW) is None
    assert totp.match_step(SECRET, codes[2], NOW) is None
    assert totp.match_step(SECRET, codes[-1], NOW, drift=0) is None
    assert totp.match_step(SECRET, codes[0], NOW, drift=0) == STEP
    assert totp.match_step(SECRET, codes[2], NOW, drift=2) == STEP + 2


def test_step_boundaries_follow_the_30_second_period():
    start = STEP * 30.0
    assert totp.match_step(SECRET, code_at(STEP), start, drift=0) == STEP
    assert totp.match_step(SECRET, code_at(STEP), start + 29.999, drift=0) == STEP
    assert totp.match_step(SECRET, code_at(STEP), start + 30.0, drift=0) is None
    assert totp.match_step(SECRET, code_at(STEP), start - 0.001, drift=0) is None


def test_a_code_valid_for_two_steps_of_the_window_uses_the_later_one(monkeypatch):
    monkeypatch.setattr(pyotp.HOTP, "at", lambda self, step: "111111")
    assert totp.match_step(SECRET, "111111", NOW) == STEP + 1


def test_another_secret_does_not_match():
    code = code_at(STEP)
    assert [o for o in range(-1, 2) if code_at(STEP + o, OTHER_SECRET) == code] == []  # precondition
    assert totp.match_step(OTHER_SECRET, code, NOW) is None


@pytest.mark.parametrize(
    "formatted",
    ["{}", "{a} {b}", " {} ", "{}\n", "\t{a}  {b} ", "{a}\u00a0{b}"],
    ids=["plain", "grouped", "padded", "newline", "tabs", "nbsp"],
)
def test_whitespace_in_a_code_is_ignored(formatted):
    code = code_at(STEP)
    assert totp.match_step(SECRET, formatted.format(code, a=code[:3], b=code[3:]), NOW) == STEP


@pytest.mark.parametrize(
    "code",
    ["", "   ", "12345", "1234567", "abcdef", "12345a", "12-345", "+12345", "-12345", "1234.5", "1e5000"],
)
def test_malformed_codes_match_nothing(code):
    assert totp.match_step(SECRET, code, NOW, drift=10**4) is None


def test_non_ascii_digits_are_refused():
    code = code_at(STEP)
    for zero in ("\u0660", "\uff10", "\u0966"):  # Arabic-Indic, fullwidth, Devanagari digits (str.isdigit is True)
        lookalike = "".join(chr(ord(zero) + int(d)) for d in code)
        assert lookalike.isdigit()
        assert totp.match_step(SECRET, lookalike, NOW) is None
    assert totp.match_step(SECRET, code[:5] + "\u00b2", NOW) is None  # superscript two


def test_negative_drift_is_a_programming_error():
    with pytest.raises(ValueError):
        totp.match_step(SECRET, "123456", NOW, drift=-1)


def test_early_steps_never_go_below_zero():
    assert totp.match_step(RFC_SECRET, pyotp.HOTP(RFC_SECRET).at(0), 1.0) == 0


def parse_key_uri(uri: str) -> tuple[str, str, dict[str, list[str]]]:
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc, parts.fragment) == ("otpauth", "totp", "")
    raw_issuer, _, raw_account = parts.path.removeprefix("/").partition(":")
    assert ":" not in raw_account
    return unquote(raw_issuer), unquote(raw_account), parse_qs(parts.query, strict_parsing=True)


def test_key_uri_has_the_fixed_parameters():
    uri = totp.otpauth_uri(SECRET, "ada@example.com")
    assert uri == (
        f"otpauth://totp/Portico:ada%40example.com?secret={SECRET}&issuer=Portico&algorithm=SHA1&digits=6&period=30"
    )
    issuer, account, query = parse_key_uri(uri)
    assert (issuer, account) == ("Portico", "ada@example.com")
    assert query == {
        "secret": [SECRET],
        "issuer": ["Portico"],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }
    assert pyotp.parse_uri(uri).at(NOW) == code_at(STEP)  # an independent reader gets the same codes


def test_key_uri_encodes_label_and_issuer():
    email, issuer = "ada+mfa/ops@example.com", "Acme: Billing & Co"
    uri = totp.otpauth_uri(SECRET, email, issuer=issuer)
    assert re.fullmatch(r"[A-Za-z0-9%:/?&=._~-]+", uri), uri  # no raw space, '+' or '#'
    assert "%20" in uri and "+" not in uri  # '+' would read as a space in the query and is ambiguous in apps
    assert parse_key_uri(uri) == (
        issuer,
        email,
        {"secret": [SECRET], "issuer": [issuer], "algorithm": ["SHA1"], "digits": ["6"], "period": ["30"]},
    )


def dark_modules(svg: str) -> tuple[int, list[list[bool]]]:
    """Rasterize the SVG segno writes: one white background rectangle and one path of horizontal
    runs (``M``/``m`` moves, ``h`` lines) stroked 1 unit wide along the middle of a module row."""
    root = ET.fromstring(svg)
    assert root.tag == f"{{{SVG_NS}}}svg"
    assert "width" not in root.attrib and "height" not in root.attrib
    x0, y0, width, height = (int(v) for v in root.attrib["viewBox"].split())
    assert (x0, y0) == (0, 0) and width == height
    paths = list(root.iter(f"{{{SVG_NS}}}path"))
    assert [p.tag for p in root] == [p.tag for p in paths]  # nothing but paths: no scripts, no text
    [background] = [p for p in paths if p.get("fill")]
    assert background.get("fill") == "#fff" and background.get("d") == f"M0 0h{width}v{height}h-{width}z"
    [ink] = [p for p in paths if p.get("stroke")]
    assert ink.get("stroke") == "#000" and ink.get("stroke-width", "1") == "1" and ink.get("transform") is None
    grid = [[False] * width for _ in range(height)]
    x = y = 0.0
    tokens = re.findall(r"([MmHh])\s*(-?\d+(?:\.\d+)?)(?:\s+(-?\d+(?:\.\d+)?))?", ink.get("d"))
    assert "".join(c + a + (" " + b if b else "") for c, a, b in tokens) == ink.get("d")  # nothing skipped
    for command, first, second in tokens:
        if command in "Mm":
            dx, dy = float(first), float(second)
            x, y = (dx, dy) if command == "M" else (x + dx, y + dy)
        else:
            end = float(first) if command == "H" else x + float(first)
            assert y % 1 == 0.5 and x % 1 == 0 and end % 1 == 0 and end > x
            for column in range(int(x), int(end)):
                grid[int(y)][column] = True
            x = end
    return width, grid


def expected_modules(uri: str) -> list[list[bool]]:
    return [[bool(m) for m in row] for row in segno.make(uri, error="m").matrix_iter(scale=1, border=4)]


URIS = [
    totp.otpauth_uri(SECRET, "ada@example.com"),
    totp.otpauth_uri(OTHER_SECRET, "a.very.long.address+with-tags@subdomain.example.co.uk", issuer="Acme: Billing"),
]
URI_IDS = ["default-issuer", "long-label"]


@pytest.mark.parametrize("uri", URIS, ids=URI_IDS)
def test_qr_svg_is_a_scalable_standalone_svg_of_exactly_the_uri(uri):
    svg = totp.qr_svg(uri)
    assert svg.startswith(f'<svg xmlns="{SVG_NS}" viewBox="0 0 ') and svg.endswith("</svg>")
    assert "<?xml" not in svg
    qr = segno.make(uri, error="m")
    assert qr.designator.split("-")[1] in ("M", "Q", "H") and not qr.is_micro
    assert svg.replace(f' xmlns="{SVG_NS}"', "", 1) == qr.svg_inline(omitsize=True, light="#fff")
    width, grid = dark_modules(svg)
    expected = expected_modules(uri)
    assert width == len(expected) == qr.symbol_size(scale=1, border=4)[0]
    assert grid == expected
    assert not any(grid[0]) and not any(row[0] for row in grid)  # the quiet zone is light


def write_pbm(grid: list[list[bool]], path: Path, scale: int = 4) -> None:
    rows = [" ".join("1" if dark else "0" for dark in row for _ in range(scale)) for row in grid for _ in range(scale)]
    path.write_text(f"P1\n{len(grid[0]) * scale} {len(grid) * scale}\n" + "\n".join(rows) + "\n")


def zbar(image: Path) -> str:
    done = subprocess.run(
        [shutil.which("zbarimg"), "--raw", "--quiet", "-Sdisable", "-Sqrcode.enable", str(image)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.removesuffix("\n")


@pytest.mark.parametrize("uri", URIS, ids=URI_IDS)
def test_zbar_reads_the_uri_from_the_drawn_modules(uri, tmp_path):
    """An independent decoder reads the modules our SVG draws (rasterized by the helper above)."""
    _, grid = dark_modules(totp.qr_svg(uri))
    write_pbm(grid, tmp_path / "qr.pbm")
    assert zbar(tmp_path / "qr.pbm") == uri


@pytest.mark.parametrize("uri", URIS, ids=URI_IDS)
def test_zbar_reads_the_uri_from_the_rendered_svg(uri, tmp_path):
    import cairosvg

    cairosvg.svg2png(
        bytestring=totp.qr_svg(uri).encode(), write_to=str(tmp_path / "qr.png"), output_width=400, output_height=400
    )
    assert zbar(tmp_path / "qr.png") == uri


def test_segno_is_not_loaded_by_importing_the_module():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "common" / "python")}
    code = "import sys, portico.auth.totp; print('segno' in sys.modules, 'pyotp' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split() == ["False", "True"]


def test_codes_from_oathtool_are_accepted():
    """An independent authenticator: oathtool (installed by `make test`) computes the code."""
    oathtool = shutil.which("oathtool")
    assert oathtool, "oathtool missing: run the tests through `make test`, which installs it"
    secret = totp.new_secret()
    moment = 1_790_000_000
    answer = subprocess.run(
        [oathtool, "--totp", "-b", "--now", "2026-09-21 14:13:20 UTC", secret],
        capture_output=True,
        text=True,
        check=True,
    )
    assert totp.match_step(secret, answer.stdout.strip(), moment) == moment // 30
