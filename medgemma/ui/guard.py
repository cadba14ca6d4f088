"""The UI side of the access rules: who is asking, whether they may use admin features, and the sign-in form.

Every admin handler calls `Guard.admin(request)` first: the check is on the server, so a visitor who calls an
endpoint directly is refused just like one who clicks a disabled button.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import gradio as gr
from gradio.utils import get_upload_folder, is_in_or_equal

from ..access import ADMIN_ONLY, Access, address_key, client_address, session_key
from ..errors import MedGemmaError


class Guard:
    """Wraps `Access` for Gradio handlers and collects the controls that sign-in unlocks."""

    def __init__(self, access: Access) -> None:
        self.access = access
        self.controls: list[gr.components.Component] = []

    @property
    def open(self) -> bool:
        """Whether admin controls start enabled (everything is open outside public mode)."""
        return not self.access.public

    def protect(self, *components: Any) -> None:
        """Register admin-only controls: disabled in public mode until the visitor signs in."""
        self.controls.extend(components)

    def visitor(self, request: gr.Request | None) -> str:
        """The visitor's key: their Gradio session (one browser tab), or their address for a call without one."""
        if request is not None and request.session_hash:
            return session_key(request.session_hash)
        return self.address(request)

    def address(self, request: gr.Request | None) -> str:
        """The caller's address key, whatever session they name (Gradio's API endpoints choose their own)."""
        if request is None:
            return address_key("anonymous")
        peer = request.client.host if request.client else None
        return address_key(client_address(peer, request.headers, self.access.cfg.trusted_proxies))

    @staticmethod
    def uploaded(path: str | None) -> Path | None:
        """`path` if it is a file a visitor uploaded through Gradio, else a Gradio error.

        A client can send any path as a file value. Gradio refuses paths outside its upload folder (see
        `build_app`); every file input checks again here, so a handler never reads a file it did not receive.
        """
        if not path:
            return None
        folder = Path(get_upload_folder())
        resolved = Path(path).resolve()
        if not is_in_or_equal(str(resolved), str(folder.resolve())) or not resolved.is_file():
            raise gr.Error("That file was not uploaded here; upload it again.")
        return resolved

    def admin(self, request: gr.Request | None) -> None:
        """Raise a Gradio error unless this visitor may use admin features."""
        if not self.access.is_admin(self.visitor(request)):
            raise gr.Error(ADMIN_ONLY)

    def count_question(self, request: gr.Request | None) -> None:
        """Count a question against the visitor's rate limit (public mode); a Gradio error past it."""
        try:
            self.access.check_rate(self.visitor(request))
        except MedGemmaError as exc:
            raise gr.Error(str(exc)) from exc

    @contextmanager
    def answer_slot(self, request: gr.Request | None) -> Iterator[None]:
        """Hold the visitor's one answer slot while their answer streams (public mode)."""
        try:
            slot = self.access.one_at_a_time(self.visitor(request))
            slot.__enter__()
        except MedGemmaError as exc:
            raise gr.Error(str(exc)) from exc
        try:
            yield
        finally:
            slot.__exit__(None, None, None)

    def build_sign_in(self) -> None:
        """The admin sign-in form (public mode only); call it after every protected control exists."""
        if not self.access.public:
            return
        on_space = self.access.cfg.on_space
        with gr.Accordion("Admin sign-in", open=False):
            gr.Markdown("Training, export, evaluation runs, model switching and index changes are for the admins "
                        "of this demo. Sign in with the admin token" +
                        (" or your Hugging Face account." if on_space and self.access.cfg.admin_users else "."))
            with gr.Row():
                token = gr.Textbox(label="Admin token", type="password", scale=3, elem_id="mg-admin-token")
                button = gr.Button("Sign in", scale=1, elem_id="mg-admin-sign-in")
                if on_space and self.access.cfg.admin_users:
                    gr.LoginButton(scale=1)  # Hugging Face OAuth; needs `hf_oauth: true` in the Space card

                leave = gr.Button("Sign out", scale=1, elem_id="mg-admin-sign-out")
            result = gr.Markdown()
        minutes = self.access.cfg.admin_session_minutes

        def sign_in(token_: str, request: gr.Request, profile: gr.OAuthProfile | None) -> tuple[Any, ...]:
            visitor = self.visitor(request)
            username = profile.username if profile is not None else None
            try:
                admitted = self.access.sign_in(visitor, token_ or "") or self.access.sign_in_user(visitor, username)
            except MedGemmaError as exc:
                raise gr.Error(str(exc)) from exc
            if admitted:
                return (f"Signed in as admin for this page, for {minutes} minutes; reloading it signs you out.",
                        "", *[gr.update(interactive=True) for _ in self.controls])
            raise gr.Error("That token is not right, or this account is not an admin of this demo.")

        def sign_out(request: gr.Request) -> tuple[Any, ...]:
            self.access.sign_out(self.visitor(request))
            return ("Signed out.", "", *[gr.update(interactive=False) for _ in self.controls])

        outputs = [result, token, *self.controls]
        button.click(sign_in, token, outputs, api_visibility="private", concurrency_limit=4)
        token.submit(sign_in, token, outputs, api_visibility="private", concurrency_limit=4)
        leave.click(sign_out, None, outputs, api_visibility="private", queue=False)
