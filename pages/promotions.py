"""Promotions page (`/promotions`)."""

import streamlit as st

from components.shell import page_shell

ctx = page_shell("Promotions")
st.info("Coming with issue 7: this page is not built yet.")
