"""Retraining runs page (`/runs`)."""

import streamlit as st

from components.shell import page_shell

ctx = page_shell("Retraining runs")
st.info("Coming with issue 6: this page is not built yet.")
