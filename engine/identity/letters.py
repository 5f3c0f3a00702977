"""Sign-in letters: one A4 page per member with their one-time code, for a committee to print and hand out (as
Belenios mails credentials and CONSUL prints census letters). Pure rendering: the codes come from
``IssueSignInCodes`` and are never stored here, logged or kept; the PDF is the only place they appear in clear.

Each page has the community's name, the member's name and household, the code in large type, the sign-in address,
a QR code of ``<address>/sign-in#code=<code>`` (segno, drawn as vector squares: no image library), and short
instructions in Chinese with English below.

**Why reportlab.** It is maintained (ReportLab Inc., releases every few months, BSD licence), pure Python for what is
used here, and it carries Adobe's CID fonts for Chinese (``STSong-Light``): the PDF names the font and every reader
supplies it, so no 10 MB CJK font file is shipped or embedded, and the letters stay a few kilobytes a page. fpdf2 needs
a TTF font embedded for any Chinese character (a font file to vendor and ~MBs per letter set); weasyprint needs
Pango and system fonts (native libraries a server may lack) to render HTML we do not need.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from urllib.parse import quote

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

CHINESE = "STSong-Light"
LATIN = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
CODE_FONT = "Courier-Bold"
INSTRUCTIONS_ZH = (
    "这是您登录“议事”社区协商平台的一次性登录码。",
    "1. 用手机扫描右侧二维码，或在浏览器中打开上面的网址。",
    "2. 输入登录码（不分大小写，短横可有可无）。不需要密码。",
    "3. 登录码只能使用一次，30 天内有效。请妥善保管，不要交给他人。",
    "丢失或过期？请联系居委会重新打印。新的登录码会使旧的失效。",
)
INSTRUCTIONS_EN = (
    "This is your one-time code to sign in to Yishi, your community's deliberation platform.",
    "1. Scan the QR code with your phone, or open the address above in a browser.",
    "2. Type the code (capitals or not, dashes or not). You need no password.",
    "3. The code works once, for 30 days. Keep it safe and give it to no one.",
    "Lost or expired? Ask your residents' committee for a new letter; a new code replaces the old one.",
)


@dataclass(frozen=True)
class LetterPage:
    name: str
    household: str | None
    code: str


def sign_in_url(address: str, code: str) -> str:
    """What the QR code holds: the sign-in page with the code filled in. The code rides in the fragment, which a browser
    never sends: in the query it would be written to the server's and any proxy's access log, where whoever reads the
    logs could sign in as the resident before they do. The sign-in page's script copies it into the field."""
    return f"{address.rstrip('/')}/sign-in#code={quote(code)}"


def render(community: str, address: str, pages: list[LetterPage]) -> bytes:
    """The letters as one PDF, a page each, A4 portrait."""
    if CHINESE not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CHINESE))
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1, invariant=True)
    canvas.setTitle("议事 登录信 Sign-in letters")
    canvas.setCreator("Yishi")
    for letter in pages:
        _page(canvas, community, address, letter)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def _lines(text: str, font: str, size: float, width: float) -> list[str]:
    # simpleSplit breaks at spaces; Chinese has none, so a long line is cut by characters
    lines: list[str] = []
    for part in simpleSplit(text, font, size, width):
        while pdfmetrics.stringWidth(part, font, size) > width and len(part) > 1:
            cut = len(part)
            while cut > 1 and pdfmetrics.stringWidth(part[:cut], font, size) > width:
                cut -= 1
            lines.append(part[:cut])
            part = part[cut:]
        lines.append(part)
    return lines


def _page(canvas: Canvas, community: str, address: str, letter: LetterPage) -> None:
    width, height = A4
    left, right = 20 * mm, width - 20 * mm
    y = height - 25 * mm
    canvas.setFont(CHINESE, 14)
    for line in _lines(community, CHINESE, 14, right - left)[:2]:
        canvas.drawString(left, y, line)
        y -= 18
    y -= 6
    canvas.setFont(CHINESE, 22)
    canvas.drawString(left, y, "议事 登录信")
    canvas.setFont(LATIN, 12)
    canvas.drawString(left + pdfmetrics.stringWidth("议事 登录信", CHINESE, 22) + 10, y, "Sign-in letter")
    y -= 40
    canvas.setFont(CHINESE, 18)
    for line in _lines(letter.name, CHINESE, 18, right - left)[:2]:
        canvas.drawString(left, y, line)
        y -= 24
    if letter.household:
        canvas.setFont(CHINESE, 14)
        canvas.drawString(left, y, "户号 Household: " + letter.household[:60])
        y -= 22
    y -= 20
    canvas.setFont(CHINESE, 14)
    canvas.drawString(left, y, "您的登录码 Your sign-in code:")
    y -= 52
    canvas.setFont(CODE_FONT, 44)
    canvas.drawString(left, y, letter.code)
    code_bottom = y
    url = sign_in_url(address, letter.code)
    _qr(canvas, url, right - 55 * mm, code_bottom - 5 * mm, 55 * mm)
    y -= 40
    canvas.setFont(CHINESE, 12)
    canvas.drawString(left, y, "登录网址 Address:")
    y -= 18
    canvas.setFont(LATIN_BOLD, 13)
    for line in _lines(address.rstrip("/") + "/sign-in", LATIN_BOLD, 13, right - left - 60 * mm)[:3]:
        canvas.drawString(left, y, line)
        y -= 17
    y = min(y, code_bottom - 70 * mm) - 10
    canvas.setFont(CHINESE, 13)
    for text in INSTRUCTIONS_ZH:
        for line in _lines(text, CHINESE, 13, right - left):
            canvas.drawString(left, y, line)
            y -= 20
    y -= 12
    canvas.setFont(LATIN, 10.5)
    for text in INSTRUCTIONS_EN:
        for line in _lines(text, LATIN, 10.5, right - left):
            canvas.drawString(left, y, line)
            y -= 15


def _qr(canvas: Canvas, data: str, x: float, top: float, size: float) -> None:
    """The QR code as filled squares, its top-left corner at (x, top), ``size`` wide with its quiet zone."""
    qr = segno.make_qr(data, error="m")
    matrix = [list(row) for row in qr.matrix]
    modules = len(matrix) + 8
    cell = size / modules
    canvas.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                canvas.rect(x + (c + 4) * cell, top - (r + 5) * cell, cell, cell, stroke=0, fill=1)
