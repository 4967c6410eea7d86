"""Leaderboard page (`/leaderboard`)."""

import streamlit as st

from components.shell import page_shell

ctx = page_shell("Leaderboard")
st.info("Coming with issue 6: this page is not built yet.")
