"""The analyzer app: `analyzer app --db PATH` (or `streamlit run app.py` with ANALYZER_DB set).

This script is the frame around every page: it sets up the page, the sidebar (database and
model version) and the navigation; each page lives in app_pages/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# Pages import their shared helpers as `app_pages.ui`, which needs this folder on the path
# whichever way the app was started.
APP_ROOT = Path(__file__).resolve().parent
if str(APP_ROOT) not in sys.path:
    sys.path.insert(0, str(APP_ROOT))

from app_pages import ui  # noqa: E402

st.set_page_config(
    page_title="analyzer: narrative vs fundamentals",
    page_icon=":material/monitoring:",
    layout="wide",
)

PAGES = [
    st.Page(
        "app_pages/overview.py",
        title="Overview",
        icon=":material/local_fire_department:",
        url_path="overview",
        default=True,
    ),
    st.Page("app_pages/entity.py", title="Entity", icon=":material/monitoring:", url_path="entity"),
    st.Page("app_pages/claims.py", title="Claims", icon=":material/gavel:", url_path="claims"),
    st.Page(
        "app_pages/check.py",
        title="Check a text or URL",
        icon=":material/fact_check:",
        url_path="check",
    ),
    st.Page(
        "app_pages/documents.py", title="Documents", icon=":material/article:", url_path="documents"
    ),
    st.Page(
        "app_pages/model.py", title="Model", icon=":material/model_training:", url_path="model"
    ),
    st.Page("app_pages/label.py", title="Label", icon=":material/edit_note:", url_path="label"),
]

page = st.navigation(PAGES)
ui.sidebar()
page.run()
