"""The community register, for the committee's admins (the role the engine lets manage members: ``AddMember``,
``IssueSignInCode``, ``RevokeSessions``, ``ImportMembers``, ``IssueSignInCodes`` all require ``admin``).

Every page reads and writes what the JSON API does: the list is ``GET /api/communities/<id>/register``
(``register.entries``), adding is ``POST /api/communities/<id>/members`` (``AddMember``), a code is
``POST …/members/<id>/sign-in-code`` (``IssueSignInCode``), revoking sessions ``POST …/members/<id>/sessions/revoke``
(``RevokeSessions``), the import ``POST …/members/import`` with ``dry_run`` then ``sha256`` (``ImportMembers``), and the
letters ``POST …/sign-in-letters`` (``IssueSignInCodes`` and ``engine.identity.letters``).

**The import carries the file between preview and confirm in the page itself**: the preview's confirm form holds the
file's bytes (base64), their sha256, and an HMAC of both under the site's secret, bound to the admin who previewed it.
Nothing is kept on the server between the two requests (no temporary file another user could reach); the confirm
checks the HMAC, and the engine checks the bytes against the sha256 and every row again before writing anything.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from functools import wraps
from typing import Any, Callable

from flask import Blueprint, Response, abort, current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import SelectChoice

from engine.identity import letters, register, register_import
from engine.identity.commands import AddMember, ImportMembers, IssueSignInCode, IssueSignInCodes, RevokeSessions
from engine.identity.handlers import Imported
from engine.kernel import queries
from engine.kernel.errors import Conflict, InvalidInput
from web.forms import ActionForm, show_errors
from web.i18n import translated
from web.links import menu_entry
from web.register.forms import ROLE_LABELS, AddMemberForm, ConfirmImportForm, LettersForm, UploadForm
from web.views import close_reader, engine, me, member_required, now, page, reader

blp = Blueprint("register", __name__, template_folder="templates")
log = logging.getLogger(__name__)

DB_INT_MAX = 2**31 - 1
MANAGING_ROLES = ("admin",)
"""The roles the engine lets manage members (``actor.require("admin")`` in ``engine.identity.handlers``)."""
menu_entry("site.register.index", _l("Register"), 70, roles=MANAGING_ROLES)

FIELD_LABELS = {"name": _l("name"), "roles": _l("roles"), "household": _l("household"), "area": _l("area"),
                "csv": _l("file"), "": _l("line")}


def admin_required(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """Signed-in admins; other members get 403."""
    @member_required
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if not set(me().roles) & set(MANAGING_ROLES):
            abort(403)
        return view(*args, **kwargs)
    return guarded


def role_names(roles: list[str] | tuple[str, ...]) -> str:
    return "、".join(str(ROLE_LABELS.get(role, role)) for role in roles) if roles else ""


@blp.app_template_filter("register_roles")
def _roles_filter(roles: Any) -> str:
    return role_names(list(roles or []))


# --- the register ---------------------------------------------------------------------------------

@blp.route("/register")
@admin_required
def index() -> ResponseReturnValue:
    search = request.args.get("q", "")[:register.MAX_SEARCH].replace("\x00", "")
    entries = register.entries(reader(), me(), now(), search)
    return page("register/index.html", entries=entries, search=search, community=queries.community(reader(), me()),
                imported=request.args.get("imported", type=int))


@blp.route("/register/add", methods=["GET", "POST"])
@admin_required
def add() -> ResponseReturnValue:
    form = AddMemberForm()
    if request.method == "GET":
        return page("register/add.html", form=form)
    if form.validate_on_submit():
        try:
            member = engine().execute(AddMember(" ".join((form.name.data or "").split()), list(form.roles.data or []),
                                                (form.household.data or "").strip() or None,
                                                (form.area.data or "").strip() or None), me())
        except InvalidInput as refusal:
            show_errors(form, refusal)
        else:
            return redirect(url_for("site.register.member", member_id=member.id, added=1))
    elif form.csrf_token.errors:
        abort(400)
    return page("register/add.html", 422, form=form)


# --- one member -----------------------------------------------------------------------------------

def _member_page(member_id: int, status: int = 200, **context: Any) -> ResponseReturnValue:
    entry = register.entry(reader(), me(), now(), member_id)
    return page("register/member.html", status, entry=entry, action=ActionForm(), added=request.args.get("added") == "1",
                revoked=request.args.get("revoked", type=int), **context)


@blp.route("/register/members/<int:member_id>")
@admin_required
def member(member_id: int) -> ResponseReturnValue:
    return _member_page(member_id)


@blp.route("/register/members/<int:member_id>/code", methods=["POST"])
@admin_required
def issue_code(member_id: int) -> ResponseReturnValue:
    """The new code is shown once, on this answer (never in a redirect's URL, never logged)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    code = engine().execute(IssueSignInCode(member_id), me())
    close_reader()
    return _member_page(member_id, code=code)


@blp.route("/register/members/<int:member_id>/sessions", methods=["POST"])
@admin_required
def revoke_sessions(member_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    ended = engine().execute(RevokeSessions(member_id), me())
    return redirect(url_for("site.register.member", member_id=member_id, revoked=ended))


# --- importing a register file ----------------------------------------------------------------------

def _signature(data: str, sha256: str) -> str:
    key = hashlib.sha256(current_app.secret_key.encode() if isinstance(current_app.secret_key, str)
                         else bytes(current_app.secret_key or b"")).digest()
    message = f"register-import:{me().community_id}:{me().member_id}:{sha256}:{hashlib.sha256(data.encode()).hexdigest()}"
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _row_errors(preview: register_import.Preview | None, errors: list[dict[str, Any]]) -> dict[int, list[str]]:
    by_line: dict[int, list[str]] = {}
    for error in errors:
        column = FIELD_LABELS.get(str(error.get("field")), error.get("field"))
        by_line.setdefault(int(error.get("row") or 0), []).append(
            _("%(column)s: %(problem)s", column=column, problem=translated(str(error.get("message")))))
    return by_line


def _preview_page(imported: Imported | None, data: bytes, status: int, refusal: InvalidInput | None = None,
                  form_error: str = "") -> ResponseReturnValue:
    preview = imported.preview if imported else None
    errors = refusal.details.get("errors", []) if refusal else (preview.errors if preview else [])
    confirm = ConfirmImportForm()
    if preview is not None and not errors:
        confirm.csv_data.data = base64.b64encode(data).decode("ascii")
        confirm.sha256.data = preview.sha256
        confirm.signature.data = _signature(confirm.csv_data.data, preview.sha256)
    return page("register/preview.html", status, preview=preview, errors=errors, by_line=_row_errors(preview, errors),
                confirm=confirm, form_error=form_error, message=translated(refusal.message) if refusal else "",
                limits=_limits())


def _limits() -> dict[str, int]:
    return {"kib": register_import.MAX_BYTES // 1024, "rows": register_import.MAX_ROWS}


@blp.route("/register/import", methods=["GET", "POST"])
@admin_required
def upload() -> ResponseReturnValue:
    try:
        form = UploadForm()
        if request.method == "GET":
            return page("register/import.html", form=form, limits=_limits())
        if not form.validate_on_submit():
            abort(400)
        uploaded = form.file.data
    except RequestEntityTooLarge:
        form = UploadForm(formdata=None)
        form.file.errors = [_("The file is larger than %(kib)s KB. Split the register into smaller files.",
                              kib=register_import.MAX_BYTES // 1024)]
        return page("register/import.html", 413, form=form, limits=_limits())
    data = uploaded.read(register_import.MAX_BYTES + 1) if uploaded else b""
    if not data:
        form.file.errors = [_("Choose the register file to upload")]
        return page("register/import.html", 422, form=form, limits=_limits())
    try:
        imported = engine().execute(ImportMembers(data, dry_run=True), me())
    except InvalidInput as refusal:
        form.file.errors = [translated(refusal.message)]
        for error in refusal.details.get("errors", [])[:20]:
            if error.get("field") not in ("csv", None):
                problem = f"{error.get('field')} — {translated(str(error.get('message')))}"
                form.file.errors.append(_("Line %(line)s: %(problem)s", line=error.get("row"), problem=problem))
        return page("register/import.html", 422, form=form, limits=_limits())
    return _preview_page(imported, data, 422 if imported.preview.errors else 200)


@blp.route("/register/import/confirm", methods=["POST"])
@admin_required
def confirm_import() -> ResponseReturnValue:
    form = ConfirmImportForm()
    if not form.validate_on_submit():
        abort(400)
    text, sha256, signature = form.csv_data.data or "", form.sha256.data or "", form.signature.data or ""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        data = b""
    if not data or not hmac.compare_digest(_signature(text, sha256), signature) \
            or register_import.digest(data) != sha256:
        return _preview_page(None, b"", 409, form_error=_(
            "This file is not the one you previewed. Nothing was imported. Upload the file again."))
    try:
        imported = engine().execute(ImportMembers(data, sha256=sha256), me())
    except InvalidInput as refusal:
        # refused whole: show every row again with the errors found now (the community may have changed meanwhile)
        try:
            again: Imported | None = engine().execute(ImportMembers(data, dry_run=True), me())
        except InvalidInput:
            again = None
        return _preview_page(again, data, 422, refusal=refusal)
    except Conflict:
        return _preview_page(None, b"", 409, form_error=_(
            "This file is not the one you previewed. Nothing was imported. Upload the file again."))
    return redirect(url_for("site.register.index", imported=len(imported.members)))


@blp.route("/register/import/template.csv")
@admin_required
def template() -> Response:
    return Response(register_import.TEMPLATE.encode("utf-8-sig"), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="register-template.csv"'})


# --- sign-in letters --------------------------------------------------------------------------------

def sign_in_address() -> str:
    """The address printed on letters: this site's, as the admin reached it (``YISHI_PUBLIC_URL`` when configured)."""
    return str(current_app.config.get("YISHI_PUBLIC_URL") or request.host_url).rstrip("/")


@blp.route("/register/letters", methods=["GET", "POST"])
@admin_required
def print_letters() -> ResponseReturnValue:
    entries = register.entries(reader(), me(), now())
    form = LettersForm()
    form.member_ids.choices = [SelectChoice(entry.member.id, entry.member.name) for entry in entries]
    if request.method == "GET":
        return page("register/letters.html", form=form, entries=entries, address=sign_in_address())
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return page("register/letters.html", 422, form=form, entries=entries, address=sign_in_address())
    chosen = tuple(form.member_ids.data or ()) if form.who.data == "chosen" else ()
    if any(not 1 <= member_id <= DB_INT_MAX for member_id in chosen):
        abort(404)  # no member has such an id
    if form.who.data == "chosen" and not chosen:
        form.member_ids.errors = [_("Choose at least one member")]
        return page("register/letters.html", 422, form=form, entries=entries, address=sign_in_address())
    try:
        issued = engine().execute(IssueSignInCodes(chosen, without_unused_code=form.who.data == "without"), me())
    except InvalidInput as refusal:
        form.form_errors.append(translated(refusal.message))
        return page("register/letters.html", 422, form=form, entries=entries, address=sign_in_address())
    community = queries.community(reader(), me())
    pdf = letters.render(community.name, sign_in_address(),
                         [letters.LetterPage(letter.member.name, letter.member.household, letter.code) for letter in issued])
    log.info("sign-in letters printed: %d members", len(issued))
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": 'attachment; filename="sign-in-letters.pdf"', "Cache-Control": "no-store"})
