"""QtWebEngine set-up the map needs before the QApplication exists.

* the ``dmap:`` URL scheme (page, static assets and tiles come from the app, never a CDN) must
  be registered before the application object is created — importing this module does it;
* Chromium refuses to start as root with its sandbox on (containers, CI), so there and only
  there the sandbox is switched off, as QtWebEngine's documentation describes;
* the default (off-the-record) profile gets our scheme handler once and serves every map view:
  QtWebEngine owns it and outlives every page, whereas a profile of ours deleted before its
  pages makes QtWebEngine warn ("Release of profile requested…") and may crash at exit.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from dispatcher_ui.map.scheme import MapSchemeHandler

# WORKAROUND for https://crbug.com/638180 : Chromium will not run as root with the sandbox.
if hasattr(os, "geteuid") and os.geteuid() == 0:
    os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")

from PySide6.QtCore import QCoreApplication  # noqa: E402
from PySide6.QtWebEngineCore import QWebEngineProfile, QWebEngineUrlScheme  # noqa: E402
from PySide6.QtWebEngineWidgets import QWebEngineView  # noqa: E402, F401  (must precede QApplication)

SCHEME = b"dmap"
ORIGIN = "dmap://app"


def _register_scheme() -> bool:
    if QWebEngineUrlScheme.schemeByName(SCHEME).name() == SCHEME:
        return True
    if QCoreApplication.instance() is not None:
        log.error("the map's URL scheme must be registered before the QApplication is created")
        return False
    scheme = QWebEngineUrlScheme(SCHEME)
    scheme.setSyntax(QWebEngineUrlScheme.Syntax.Host)
    scheme.setFlags(
        QWebEngineUrlScheme.Flag.SecureScheme
        | QWebEngineUrlScheme.Flag.LocalAccessAllowed
        | QWebEngineUrlScheme.Flag.CorsEnabled
    )
    QWebEngineUrlScheme.registerScheme(scheme)
    return True


SCHEME_REGISTERED = _register_scheme()
_profile: QWebEngineProfile | None = None
_handler: MapSchemeHandler | None = None


def scheme_handler() -> MapSchemeHandler:
    """The one ``dmap:`` handler (created with the shared profile on first use)."""
    map_profile()
    assert _handler is not None
    return _handler


def map_profile() -> QWebEngineProfile:
    """The shared profile whose ``dmap:`` handler serves every map page and tile."""
    global _profile, _handler  # noqa: PLW0603 - one per process (see the module docstring)
    if _profile is None:
        from dispatcher_ui.map.scheme import MapSchemeHandler

        _profile = QWebEngineProfile.defaultProfile()
        _handler = MapSchemeHandler(QCoreApplication.instance())
        _profile.installUrlSchemeHandler(SCHEME, _handler)
    return _profile
