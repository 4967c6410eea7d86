"""Drift page (`/drift`)."""

import streamlit as st

from components.shell import page_shell

ctx = page_shell("Drift")
st.info("Coming with issue 5: this page is not built yet.")
